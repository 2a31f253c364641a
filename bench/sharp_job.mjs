// The pixelation job done with sharp (libvips), as well as sharp can do it: decode once with
// shrink-on-load to the scale pixelpipe decodes at, then for each grid size a bilinear resize
// to n x n and a nearest-neighbour resize back to full size, encoded with the same settings as
// pixelpipe's outputs; the five outputs run concurrently.
//
// Usage: node bench/sharp_job.mjs FILE FORMAT SCALE REPEAT [default]
// "default": PNG with sharp's default settings (no palette) instead of pixelpipe's, the way
// most sharp users write PNG: faster, and several times the bytes.
// Prints one JSON line: best wall and CPU ms over REPEAT runs (after a warm-up), peak RSS,
// total output bytes. Run by bench/bench_engine.py; sharp comes from `npm install --prefix bench`.
import { readFileSync } from "node:fs";
import os from "node:os";
import { performance } from "node:perf_hooks";
import sharp from "sharp";

const [file, format, scaleArg, repeatArg, settings] = process.argv.slice(2);
const pngDefault = settings === "default";
const SIZES = [8, 16, 32, 48, 64];
const scale = Number(scaleArg);
const repeat = Number(repeatArg);
const input = readFileSync(file);

// On glibc without jemalloc sharp defaults to one libvips thread (against fragmentation);
// this job is short-lived, so give it every core, as a performance-minded user would.
sharp.concurrency(os.availableParallelism());
sharp.cache(false);

function encoder(pipeline, n) {
  if (format === "jpeg") {
    return pipeline.jpeg({ quality: 75, chromaSubsampling: "4:2:0", optimiseCoding: true });
  }
  if (format === "png" && pngDefault) {
    return pipeline.png();
  }
  if (format === "png") {
    // An 8x8 or 16x16 grid has <= 256 colours: an exact palette, as pixelpipe writes it.
    return pipeline.png({ compressionLevel: 6, palette: n * n <= 256, dither: 0 });
  }
  return pipeline.webp({ lossless: true, quality: 1, effort: 4 }); // sharp: quality >= 1
}

async function job() {
  const { width, height } = await sharp(input).metadata();
  const work = await sharp(input)
    .resize(Math.max(1, Math.floor(width / scale)), Math.max(1, Math.floor(height / scale)), {
      fit: "fill",
      kernel: "linear",
      fastShrinkOnLoad: true,
    })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const sizes = await Promise.all(
    SIZES.map(async (n) => {
      const grid = await sharp(work.data, { raw: work.info })
        .resize(n, n, { fit: "fill", kernel: "linear" })
        .raw()
        .toBuffer({ resolveWithObject: true });
      const full = sharp(grid.data, { raw: grid.info }).resize(width, height, {
        fit: "fill",
        kernel: "nearest",
      });
      return (await encoder(full, n).toBuffer()).length;
    }),
  );
  return sizes.reduce((a, b) => a + b, 0);
}

let bytes = await job(); // warm-up
let wall = Infinity;
let cpu = Infinity;
for (let i = 0; i < repeat; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  bytes = await job();
  wall = Math.min(wall, performance.now() - t0);
  const c = process.cpuUsage(c0);
  cpu = Math.min(cpu, (c.user + c.system) / 1000);
}
// VmHWM: getrusage's maxRSS would include the parent's peak, carried across fork and exec.
const hwm = readFileSync("/proc/self/status", "utf8").match(/VmHWM:\s+(\d+)/);
const rss_mb = (hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) / 1024;
console.log(JSON.stringify({ wall_ms: wall, cpu_ms: cpu, rss_mb, bytes, sharp: sharp.versions.sharp, vips: sharp.versions.vips }));
