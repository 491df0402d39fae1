#!/usr/bin/env bash
# The web pages in a real browser: Debian's Chromium (headless), driven by playwright-core from
# npm, against the real server binary with the demo district: every tests/web/*.test.mjs, one file
# at a time, each with a server of its own (tests/web/harness.mjs). journey.test.mjs takes the
# screenshots in docs/screenshots/. Ends with "web: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/packages.sh

# Chromium, and a CJK font so the pages (and their screenshots) show Chinese, not boxes.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(npm)
fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || missing+=(fonts-noto-cjk)
install_missing "${missing[@]}"
# Tesseract and the line model: the server reads the ID cards the console and the candidate's
# page show findings for.
install_tesseract
install_line_model

# The server with the workspace's features (`cargo test --workspace` has built it already).
cargo build --workspace --bin dossier-server --locked
(cd tests/web && npm ci --no-audit --no-fund --silent)

set +e
# The shell expands the pattern (so any node version takes it); the TAP file totals every file.
(cd tests/web && node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=results.tap ./*.test.mjs)
status=$?
set -e
awk '/^# pass / { p = $3 } /^# fail / { f = $3 } END { printf "web: %d passed, %d failed\n", p, f }' tests/web/results.tap
exit "$status"
