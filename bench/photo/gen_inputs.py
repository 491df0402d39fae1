"""Document-like phone photos for the benchmark: a printed page on a desk, slightly turned, lit
unevenly, with sensor noise, saved as a camera would (JPEG q92, 4:2:0). Deterministic."""
import random
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont


def page(w, h, seed):
    rnd = random.Random(seed)
    img = Image.new("RGB", (w, h), (246, 244, 238))
    d = ImageDraw.Draw(img)
    title = ImageFont.load_default(size=max(12, h // 28))
    body = ImageFont.load_default(size=max(8, h // 70))
    d.text((w // 6, h // 18), "CERTIFICATE OF MEDICAL EDUCATION", fill=(20, 20, 30), font=title)
    y = h // 7
    words = ["name", "number", "1990", "graduated", "clinical", "medicine", "university", "degree", "ID", "2026", "exam"]
    while y < h * 0.85:
        line = " ".join(rnd.choice(words) + str(rnd.randint(0, 99)) for _ in range(rnd.randint(6, 12)))
        d.text((w // 12, y), line, fill=(30, 30, 40), font=body)
        y += int(h / 48)
    r = h // 9
    d.ellipse((w * 0.68, h * 0.78, w * 0.68 + 2 * r, h * 0.78 + 2 * r), outline=(200, 30, 30), width=max(3, h // 300))
    return img


def photo(w, h, seed):
    desk = Image.new("RGB", (w, h), (92, 70, 52))
    sheet = page(int(w * 0.86), int(h * 0.9), seed).rotate(2.5, expand=True, resample=Image.BICUBIC, fillcolor=(92, 70, 52))
    desk.paste(sheet, ((w - sheet.width) // 2, (h - sheet.height) // 2))
    arr = np.asarray(desk).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 0.82 + 0.25 * (xx / w) * (1 - 0.3 * yy / h)
    arr *= light[..., None]
    arr += np.random.default_rng(seed).normal(0, 3.0, arr.shape).astype(np.float32)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return img.filter(ImageFilter.GaussianBlur(0.6))


if __name__ == "__main__":
    out = sys.argv[1]
    for name, (w, h) in {"doc-12mp": (4032, 3024), "doc-48mp": (8064, 6048)}.items():
        photo(w, h, 7).save(f"{out}/{name}.jpg", quality=92, subsampling=2)
        print(f"{out}/{name}.jpg")
    # 200 MP (16384 x 12288, a 200 MP phone sensor): the 48 MP page scaled up, for memory bounds.
    big = Image.open(f"{out}/doc-48mp.jpg").resize((16384, 12288), Image.BILINEAR)
    big.save(f"{out}/doc-200mp.jpg", quality=85, subsampling=2)
    print(f"{out}/doc-200mp.jpg")
