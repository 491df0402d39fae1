"""The Pillow peer: draft() decode at reduced scale, upright, fit 2048 px (Lanczos), then the highest
JPEG quality (optimised, 4:2:0) under the budget by bisection. Prints JSON."""
import io
import json
import statistics
import sys
import time

from PIL import Image, ImageOps

BUDGET = 200 * 1024


def prepare(path):
    im = Image.open(path)
    im.draft("RGB", (2048, 2048))
    im = ImageOps.exif_transpose(im).convert("RGB")
    im.thumbnail((2048, 2048), Image.LANCZOS)
    # A noisy photo may not fit at quality 20 even at 2048 px: then smaller, as Dossier does.
    while True:
        lo, hi, best = 20, 95, None
        while lo <= hi:
            q = (lo + hi) // 2
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=q, optimize=True, subsampling=2)
            if buf.tell() <= BUDGET:
                best, lo = (q, buf.getvalue()), q + 1
            else:
                hi = q - 1
        if best:
            return best
        im.thumbnail((int(max(im.size) * 0.85),) * 2, Image.LANCZOS)


path, runs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
times = []
for _ in range(runs):
    t = time.perf_counter()
    q, data = prepare(path)
    times.append((time.perf_counter() - t) * 1000)
open(out, "wb").write(data)
print(json.dumps({"median_ms": statistics.median(times), "bytes": len(data), "quality": q}))
