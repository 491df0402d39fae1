"""Legibility by OCR: tesseract reads what each tool delivers for a generated set of document
photos, and we count the characters of the rendered text it recovered. Four variants, all with the
policy "fit 2048 px, highest quality under 200 KB": Dossier before (whole frame, no content turn),
Dossier (page found, flattened, turned by content), sharp and Pillow (whole frame, EXIF upright).

    python3 bench/photo/legibility.py [COUNT]     # COUNT scenes, 24 by default
    python3 bench/photo/legibility.py --self-check

Needs target/release/examples/{prepare,capture_set} (run.sh builds them), node with sharp in
bench/photo/node_modules, Pillow, and tesseract with chi_sim and eng (scripts/packages.sh
install_ocr). Prints markdown tables; the outputs, what tesseract read and results.json are left
in bench/out/photo/legibility/.
"""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = ROOT / "bench/out/photo/legibility"
EXAMPLES = ROOT / "target/release/examples"
VARIANTS = ["dossier-before", "dossier", "sharp", "pillow"]
TESSERACT = ["-l", "chi_sim+eng", "--psm", "6"]


def normalize(text):
    """NFKC folds full-width forms into their ASCII twins (tesseract's chi_sim writes '：' and '，'
    where a page may have ':' and ',', and a reviewer reads them alike); whitespace goes, because
    where tesseract puts spaces and line breaks in Chinese text says nothing about legibility."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def lcs_len(a, b):
    """Length of the longest common subsequence of a and b, bit-parallel (Allison and Dix 1986,
    Crochemore et al. 2001): one big-int step per character of b, so a page of 2000 characters
    against as much OCR output takes milliseconds where the textbook table would take seconds."""
    if not a or not b:
        return 0
    match = {}
    for i, ch in enumerate(a):
        match[ch] = match.get(ch, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for ch in b:
        u = v & match.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def characters_read(rendered, ocr_text):
    """How many characters of the rendered text the OCR output recovered: the LCS of the two after
    normalize(). LCS rather than a bag (multiset) of characters, because a bag credits a character
    wherever it turns up: the few hundred distinct characters of a certificate and the ten digits
    recur all over it, so a misread ID number, a line read twice or noise from the desk would still
    score (on a stand-in set, a page delivered upside down: 156 of 709 as a bag, 100 by LCS). LCS credits only characters recovered in order, each at most once, and so can never
    exceed the rendered count. The price: text that tesseract reads in another block order than the
    rendered one (two columns of an ID card) counts only once in order; that is a lower bound, the
    same for every variant, and small when the generator lists the text in reading order (top to
    bottom, left to right), which is how --psm 6 reads a page."""
    return lcs_len(normalize(rendered), normalize(ocr_text))


def lcs_table(a, b):
    """The textbook O(len(a) x len(b)) LCS, to check lcs_len against."""
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def self_check():
    assert characters_read("医师资格考试", "医师资格考试") == 6
    # Whitespace and line breaks do not count, on either side.
    assert characters_read("姓名 张伟\n考点 北京", "姓 名 张 伟\n\n考点北京\f") == 8
    # Full-width punctuation is the same character as its ASCII twin.
    assert characters_read("姓名：张伟，2026", "姓名:张伟,2026") == 10
    # A misread character costs that character: 证 read as 正, 0 read as O.
    assert characters_read("准考证号 2026", "准考正号 2O26") == 6
    # Noise around the text adds nothing, and nothing read is zero.
    assert characters_read("ab12", "x a y b z 1 2 w") == 4
    assert characters_read("ab12", "") == 0 and characters_read("", "ab12") == 0
    # Order matters: the same characters shuffled are not the text (a bag would say 6).
    assert characters_read("110105", "501011") == 3
    assert characters_read("ABCDEF", "DEFABC") == 3
    rnd = random.Random(7)
    for _ in range(300):
        a = "".join(rnd.choice("考试01 ab") for _ in range(rnd.randint(0, 70)))
        b = "".join(rnd.choice("考试01 ab") for _ in range(rnd.randint(0, 70)))
        assert lcs_len(a, b) == lcs_table(a, b), (a, b)


def prepare(variant, scene, src, dst):
    """Writes the variant's output for one scene; returns None, or why Dossier refused."""
    kind = scene["kind"] if scene["kind"] in ("a4", "id_card") else "id_card"
    cmd = {
        "dossier-before": [EXAMPLES / "prepare", src, dst, kind, "--whole-frame", "--no-turn"],
        "dossier": [EXAMPLES / "prepare", src, dst, kind],
        "sharp": ["node", HERE / "sharp_prepare.js", src, "1", dst],
        "pillow": [sys.executable, HERE / "pillow_prepare.py", src, "1", dst],
    }[variant]
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if done.returncode != 0 and variant.startswith("dossier"):
        return (done.stderr.strip().splitlines() or ["exit %d" % done.returncode])[-1]
    done.check_returncode()
    return None


def ocr(image):
    """--psm 6, one block of text, no orientation detection, to read the picture as delivered, the
    way a reviewer sees it. Not --psm 3 (automatic layout): it reads Chinese lines turned by 90° one
    way as vertical text and reads them well, but not those turned the other way, so a page's
    sideways turn would count or not by its direction; on a stand-in set it also dropped lines of
    upright pages on a wood-grain desk (0.93 read against 0.999 with --psm 6). What --psm 6 makes
    of the desk costs nothing: text that is not on the page is ignored by the LCS. Not --psm 1: it
    would detect and undo the turn, which is what the variants differ in. One OpenMP thread per
    tesseract and as many tesseracts as cores, as tesseract advises."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    return subprocess.run(["tesseract", str(image), "stdout", *TESSERACT],
                          check=True, capture_output=True, text=True, env=env, timeout=300).stdout


def run_one(variant, scene, scenes_dir):
    src = scenes_dir / scene["file"]
    dst = OUT / variant / scene["file"]
    refused = prepare(variant, scene, src, dst)
    text = "" if refused else ocr(dst)
    dst.with_suffix(".txt").write_text(text)
    rendered = normalize(scene["text"])
    return {"scene": scene["file"], "variant": variant, "read": characters_read(rendered, text),
            "rendered": len(rendered), "bytes": 0 if refused else dst.stat().st_size, "refused": refused}


def ratio(read, rendered):
    return f"{read / rendered:.3f}" if rendered else ""


def main(count):
    scenes_dir = OUT / f"scenes-{count}"
    if not shutil.which("tesseract"):
        sys.exit("no tesseract: bash -c 'source scripts/packages.sh && install_tesseract'")
    for name in ("prepare", "capture_set"):
        if not (EXAMPLES / name).exists():
            sys.exit(f"missing {EXAMPLES / name}: cargo build --release -p dossier-core "
                     "--example prepare --example capture_set")
    if not any(scenes_dir.glob("scene-*.json")):
        scenes_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(EXAMPLES / "capture_set"), str(scenes_dir), str(count)], check=True,
                       stdout=subprocess.DEVNULL)
    scenes = [json.loads(p.read_text()) for p in sorted(scenes_dir.glob("scene-*.json"))]
    # A scene with no text (kind "none", a desk without a document) has nothing to read.
    with_text = [s for s in scenes if normalize(s["text"])]
    for v in VARIANTS:
        (OUT / v).mkdir(parents=True, exist_ok=True)
    jobs = [(v, s) for s in with_text for v in VARIANTS]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(lambda job: run_one(*job, scenes_dir), jobs))
    (OUT / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
    by = {(r["scene"], r["variant"]): r for r in results}

    print(f"legibility: tesseract {tesseract_version()} ({' '.join(TESSERACT)}) on {len(with_text)} "
          f"scenes with text of {len(scenes)} ({scenes_dir}); characters read of rendered, "
          "whitespace ignored\n")
    print("| scene | kind | turn | EXIF | rendered | " + " | ".join(VARIANTS) + " |")
    print("| --- | --- | ---: | ---: | ---: |" + " ---: |" * len(VARIANTS))
    for s in with_text:
        cells = []
        for v in VARIANTS:
            r = by[(s["file"], v)]
            cells.append("refused" if r["refused"] else str(r["read"]))
        print(f"| {s['file'].removesuffix('.jpg')} | {s['kind']} | {s['turn']} | {s['exif_orientation']} | "
              f"{len(normalize(s['text']))} | " + " | ".join(cells) + " |")

    total = {v: sum(by[(s["file"], v)]["read"] for s in with_text) for v in VARIANTS}
    rendered = sum(len(normalize(s["text"])) for s in with_text)
    print("\n| variant | characters read | of rendered | ratio | × sharp |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for v in VARIANTS:
        vs_sharp = f"{total[v] / total['sharp']:.2f}" if total["sharp"] else ""
        print(f"| {v} | {total[v]} | {rendered} | {ratio(total[v], rendered)} | {vs_sharp} |")

    # The same totals by the content's turn: turn 0 shows what finding and flattening the page
    # gives, the others what turning it by content adds.
    turns = sorted({s["turn"] for s in with_text})
    print("\n| variant | " + " | ".join(f"turn {t}" for t in turns) + " |")
    print("| --- |" + " ---: |" * len(turns))
    for v in VARIANTS:
        cells = []
        for t in turns:
            group = [s for s in with_text if s["turn"] == t]
            cells.append(ratio(sum(by[(s["file"], v)]["read"] for s in group),
                               sum(len(normalize(s["text"])) for s in group)))
        print(f"| {v} | " + " | ".join(cells) + " |")
    refusals = [r for r in results if r["refused"]]
    if refusals:
        print()
    for r in refusals:
        print(f"{r['variant']} refused {r['scene']} (counted as 0 read): {r['refused']}")


def tesseract_version():
    out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).split()[1]


if __name__ == "__main__":
    self_check()
    if sys.argv[1:] == ["--self-check"]:
        print("legibility self-check: ok")
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 24)
