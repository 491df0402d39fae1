# Sourced by the test scripts: install the Debian packages named (after apt-get update) when
# running as root, as CI does on a fresh machine; otherwise say which to install and stop.
install_missing() {
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "please install: $* (e.g. sudo apt-get install $*)" >&2
    exit 1
  fi
}

# What building Dossier needs beyond a Rust toolchain and a C compiler: libjpeg-turbo (built from
# source by turbojpeg-sys) needs cmake, and nasm for its SIMD code.
install_build_tools() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v nasm >/dev/null || missing+=(nasm)
  command -v cc >/dev/null || missing+=(gcc)
  command -v g++ >/dev/null || missing+=(g++)
  install_missing "${missing[@]}"
}

# What the server's ID-card reading (reviewer assistance) and the photo benchmark's legibility
# measure (bench/photo/legibility.py) need: tesseract with Debian's Simplified Chinese and English
# models (Apache-2.0).
install_tesseract() {
  local missing=() langs=""
  if command -v tesseract >/dev/null; then
    langs=$(tesseract --list-langs 2>&1)
  else
    missing+=(tesseract-ocr)
  fi
  grep -qx chi_sim <<<"$langs" || missing+=(tesseract-ocr-chi-sim)
  grep -qx eng <<<"$langs" || missing+=(tesseract-ocr-eng)
  install_missing "${missing[@]}"
}

# The fonts the generated ID cards are drawn with (the assistance tests) and the pages' Chinese in
# Chromium: Debian's Noto CJK (SIL OFL 1.1).
install_cjk_fonts() {
  local missing=()
  [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
  install_missing "${missing[@]}"
}
