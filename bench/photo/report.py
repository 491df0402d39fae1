"""Runs each tool in its own process (pinned to core 0, peak RSS by /usr/bin/time) and prints the
table with ratios to sharp."""
import json
import os
import subprocess
import sys

root, here, out, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
# Each tool: the command before `IN RUNS OUT`, and what follows it. `dossier` is the default
# pipeline (page found, flattened, turned by content); `dossier-before` the whole frame turned by
# EXIF only, as before page capture (and comparable by SSIM with the others).
tools = {
    "dossier": ([f"{root}/target/release/examples/bench_prepare"], ["default"]),
    "dossier-before": ([f"{root}/target/release/examples/bench_prepare"], ["before"]),
    "sharp": (["node", f"{here}/sharp_prepare.js"], []),
    "pillow": ([sys.executable, f"{here}/pillow_prepare.py"], []),
}
# 12 and 48 MP: a page filling most of the frame (gen_inputs.py); page-12mp: a diploma in about
# half of a 12 MP frame, from the capture tests' generator, where the page is flattened from a
# second, larger decode.
SIZES = ["12mp", "48mp", "page-12mp"]
results = {}
for size in SIZES:
    src = f"{out}/doc-{size}.jpg"
    for tool, (cmd, after) in tools.items():
        dst = f"{out}/{tool}-{size}.jpg"
        rss_file = f"{out}/rss.txt"
        line = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, "taskset", "-c", "0", *cmd, src, runs, dst, *after],
                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        r = json.loads(line)
        r["rss_mb"] = int(open(rss_file).read().split()[-1]) / 1024
        if r.get("page") in ("found", "given"):
            # A flattened page is not the frame: SSIM against the frame means nothing.
            r["ssim"], r["ssim_up"] = float("nan"), float("nan")
        else:
            same, up = subprocess.run([sys.executable, f"{here}/ssim.py", src, dst], check=True, capture_output=True, text=True).stdout.split()
            r["ssim"], r["ssim_up"] = float(same), float(up)
        results[(tool, size)] = r

# 200 MP: Dossier alone, for its memory bound (decoded at 1/8 scale straight to 2048 px).
src, dst, rss_file = f"{out}/doc-200mp.jpg", f"{out}/dossier-200mp.jpg", f"{out}/rss.txt"
line = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, "taskset", "-c", "0", *tools["dossier"][0], src, "1", dst, "default"],
                      check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
big = json.loads(line)
big["rss_mb"] = int(open(rss_file).read().split()[-1]) / 1024
big["input_mb"] = os.path.getsize(src) / 1e6

print(f"photo benchmark: median of {runs} runs, single core; ratios are to sharp in this run")
print(f"{'tool':14} {'size':5} {'ms':>7} {'x sharp':>8} {'peak MB':>8} {'bytes':>7} {'q':>3} {'SSIM':>7} {'SSIM@2048':>9}  page")
for size in SIZES:
    base = results[("sharp", size)]
    for tool in tools:
        r = results[(tool, size)]
        page = f"{r['page']} {r['width']}x{r['height']}, turned {r['turned']}" if "page" in r else ""
        print(f"{tool:14} {size:5} {r['median_ms']:7.0f} {r['median_ms'] / base['median_ms']:8.2f} {r['rss_mb']:8.0f} "
              f"{r['bytes']:7d} {r['quality']:3d} {r['ssim']:7.4f} {r['ssim_up']:9.4f}  {page}")
for size in SIZES:
    r = results[("dossier", size)]
    print(f"dossier {size}: page detection alone {r['detect_ms']:.1f} ms (on the 2048 px frame), "
          f"content orientation alone {r['turn_ms']:.1f} ms (on the result)")
print(f"dossier        200mp {big['median_ms']:7.0f} {'':8} {big['rss_mb']:8.0f} {big['bytes']:7d} {big['quality']:3d}   (input {big['input_mb']:.0f} MB, read whole; page {big.get('page')})")
