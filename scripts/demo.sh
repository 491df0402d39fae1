#!/usr/bin/env bash
# The server with a demo district, on a fresh Debian machine that has only a Rust toolchain:
# installs what the build needs (cmake and nasm for libjpeg-turbo), Tesseract and PP-OCR's line
# model for reading ID cards (apt-get when run as root, otherwise it says what to install), then builds and runs `dossier-server demo`. Arguments are
# passed on; settings come from `dossier.toml` and `DOSSIER_*` (e.g. `DOSSIER_LISTEN=0.0.0.0:8080`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/packages.sh
install_build_tools
# Reading ID cards for the reviewers (the server serves without it, with analysis off).
(install_tesseract) || echo "ID-card analysis stays off until tesseract-ocr and tesseract-ocr-chi-sim are installed" >&2
(install_line_model) || echo "names on ID cards are read by Tesseract alone until the line model is installed" >&2
exec cargo run -p dossier-server --release --locked -- demo "$@"
