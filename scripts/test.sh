#!/usr/bin/env bash
# All of Dossier's tests, on a fresh Debian machine: installs what the build needs, then runs the
# Rust workspace's tests (unit, the photo pipeline, the end-to-end tests against the real server),
# then the bindings' (scripts/bindings-tests.sh: Kotlin on the JVM, Swift generated), then the API
# under schemathesis (scripts/api-fuzz.sh), then the web pages in headless Chromium
# (scripts/web-tests.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/packages.sh

install_build_tools
# The server reads ID cards with Tesseract and PP-OCR's line model; the tests draw the cards
# with Noto CJK.
install_tesseract
install_line_model
install_cjk_fonts
# The second configuration runs on real parts: an S3-compatible object store (SeaweedFS) and a
# throwaway PostgreSQL cluster.
install_seaweedfs
install_postgresql

log=$(mktemp)
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The end-to-end suites again in the second configuration, same tests: every server's metadata in
# PostgreSQL (one throwaway cluster per test binary, a database per server:
# tests/src/postgres_cluster.rs) and its blobs in an S3-compatible object store (SeaweedFS on
# loopback, tests/src/object_store.rs).
echo "== the end-to-end suites on PostgreSQL and an object store (DOSSIER_TEST_DB=postgres DOSSIER_TEST_BLOBS=s3)"
# (--workspace, as above, so the build's features are the same and nothing is compiled again.)
DOSSIER_TEST_DB=postgres DOSSIER_TEST_BLOBS=s3 cargo test --workspace --locked --test candidate \
  --test review --test notify --test operations --test crash --test journey --test queue_faults \
  --test hardening --test web \
  2>&1 | tee -a "$log"
s3=${PIPESTATUS[0]}
[ "$status" = 0 ] && status=$s3
set -e
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "rust: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"

# The Kotlin bindings on the JVM against the real server (and the Swift bindings generated).
set +e
bash scripts/bindings-tests.sh
bindings=$?
set -e
[ "$status" = 0 ] && status=$bindings

# The API under schemathesis, without and with a candidate's token (any finding fails).
set +e
bash scripts/api-fuzz.sh
fuzz=$?
set -e
[ "$status" = 0 ] && status=$fuzz

# The web pages in headless Chromium (and their screenshots).
set +e
bash scripts/web-tests.sh
web=$?
set -e
[ "$status" = 0 ] && status=$web
exit "$status"
