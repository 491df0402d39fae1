// The sharp (libvips) peer: shrink-on-load decode, upright, fit 2048 px (Lanczos3), then the
// highest JPEG quality (optimised Huffman, 4:2:0) under the budget by bisection. Prints JSON.
const sharp = require("sharp");
const fs = require("fs");
sharp.concurrency(1);
const BUDGET = 200 * 1024;

async function prepare(path) {
  // A noisy photo may not fit at quality 20 even at 2048 px: then smaller, as Dossier does.
  for (let edge = 2048; ; edge = Math.round(edge * 0.85)) {
    const { data, info } = await sharp(path).rotate()
      .resize(edge, edge, { fit: "inside", withoutEnlargement: true, kernel: "lanczos3" })
      .raw().toBuffer({ resolveWithObject: true });
    let lo = 20, hi = 95, best = null;
    while (lo <= hi) {
      const q = (lo + hi) >> 1;
      const out = await sharp(data, { raw: info }).jpeg({ quality: q, chromaSubsampling: "4:2:0", optimiseCoding: true }).toBuffer();
      if (out.length <= BUDGET) { best = [q, out]; lo = q + 1; } else { hi = q - 1; }
    }
    if (best) return best;
  }
}

(async () => {
  const [path, runs, outPath] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
  const times = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    result = await prepare(path);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  fs.writeFileSync(outPath, result[1]);
  console.log(JSON.stringify({ median_ms: times[times.length >> 1], bytes: result[1].length, quality: result[0] }));
})();
