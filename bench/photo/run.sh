#!/usr/bin/env bash
# The photo benchmark: Dossier's `prepare` against sharp (libvips) and Pillow on the same
# document-like 12 MP and 48 MP photos, each single-threaded on core 0, policy "fit 2048 px,
# highest quality under 200 KB". Prints time, peak memory and legibility (SSIM) with ratios to
# sharp measured in the same run. RUNS=5 by default. Then, after the timings so as not to disturb
# them, legibility by OCR: tesseract reads the outputs of SCENES=24 generated document photos
# (legibility.py, a few minutes on 2 cores); LEGIBILITY=0 leaves it out.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/bench/out/photo"
mkdir -p "$out"
python3 -c "import PIL, numpy" 2>/dev/null || pip install -q pillow numpy
[ -d "$here/node_modules/sharp" ] || (cd "$here" && npm install --no-audit --no-fund --silent)
if [ "${LEGIBILITY:-1}" != 0 ]; then
  source "$root/scripts/packages.sh"
  install_tesseract
fi
(cd "$root" && cargo build -q --release -p dossier-core --example bench_prepare --example prepare --example capture_set)
[ -f "$out/doc-200mp.jpg" ] || python3 "$here/gen_inputs.py" "$out" >/dev/null
if [ ! -f "$out/doc-page-12mp.jpg" ]; then
  "$root/target/release/examples/capture_set" "$out/page-scene" 1 4032 3024 >/dev/null
  cp "$out/page-scene/scene-000.jpg" "$out/doc-page-12mp.jpg"
fi
python3 "$here/report.py" "$root" "$here" "$out" "${RUNS:-5}"
if [ "${LEGIBILITY:-1}" != 0 ]; then
  echo
  python3 "$here/legibility.py" "${SCENES:-24}"
fi
