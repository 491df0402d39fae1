#!/usr/bin/env bash
# The server with a demo district, on a fresh Debian machine that has only a Rust toolchain:
# installs what the build needs (cmake and nasm for libjpeg-turbo; apt-get when run as root,
# otherwise it says what to install), then builds and runs `dossier-server demo`. Arguments are
# passed on; settings come from `dossier.toml` and `DOSSIER_*` (e.g. `DOSSIER_LISTEN=0.0.0.0:8080`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/packages.sh
install_build_tools
exec cargo run -p dossier-server --release --locked -- demo "$@"
