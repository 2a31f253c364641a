// Decodes placeholders with the reference implementations, for tests/test_placeholder.py:
// BlurHash with woltapp's `blurhash`, ThumbHash with evanw's `thumbhash` (both from npm,
// pinned in package.json). stdin: a JSON list of {"blurhash", "width", "height"} or
// {"thumbhash"} (base64); stdout: a JSON list of {"width", "height", "rgba": [...]} (plus
// "aspect" and "average" for ThumbHash) or {"error"}.
import { decode, isBlurhashValid } from "blurhash";
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA, thumbHashToRGBA } from "thumbhash";

function one(req) {
  if (typeof req.blurhash === "string") {
    const valid = isBlurhashValid(req.blurhash);
    if (!valid.result) return { error: valid.errorReason };
    const rgba = decode(req.blurhash, req.width, req.height);
    return { width: req.width, height: req.height, rgba: Array.from(rgba) };
  }
  const bytes = Buffer.from(req.thumbhash, "base64");
  const { w, h, rgba } = thumbHashToRGBA(bytes);
  return {
    width: w,
    height: h,
    rgba: Array.from(rgba),
    aspect: thumbHashToApproximateAspectRatio(bytes),
    average: thumbHashToAverageRGBA(bytes),
  };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((req) => {
    try {
      return one(req);
    } catch (err) {
      return { error: String(err && err.message ? err.message : err) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
