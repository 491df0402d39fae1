"""SSIM (7x7 window, luma) of a prepared photo against the original resized to the same size with
Lanczos, and the same after upscaling both to the original's size (what a reviewer zooming in sees).
Usage: ssim.py ORIGINAL PREPARED -> prints two numbers."""
import sys

import numpy as np
from PIL import Image


def box(a, k=7):
    c = np.cumsum(np.cumsum(np.pad(a, ((1, 0), (1, 0))), 0), 1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def ssim(x, y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = box(x), box(y)
    vx, vy, cxy = box(x * x) - mx * mx, box(y * y) - my * my, box(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


orig = Image.open(sys.argv[1]).convert("L")
prep = Image.open(sys.argv[2]).convert("L")
same_size = ssim(np.asarray(orig.resize(prep.size, Image.LANCZOS)), np.asarray(prep))
ref = (2048, int(2048 * orig.height / orig.width)) if orig.width >= orig.height else (int(2048 * orig.width / orig.height), 2048)
up = ssim(np.asarray(orig.resize(ref, Image.LANCZOS)), np.asarray(prep.resize(ref, Image.LANCZOS)))
print(f"{same_size:.4f} {up:.4f}")
