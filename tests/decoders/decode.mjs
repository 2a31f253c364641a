// The reference implementations, for tests/test_placeholder.py: BlurHash is woltapp's
// `blurhash`, ThumbHash evanw's `thumbhash` (both from npm, pinned in package.json).
// stdin: a JSON list of requests; stdout: a JSON list of answers, one each, or {"error"}.
//   {"blurhash", "width", "height"}  -> {"width", "height", "rgba": [...]}  (decoded)
//   {"thumbhash": base64}            -> {"width", "height", "rgba", "aspect", "average"}
//   {"encode": "blurhash" | "thumbhash", "width", "height", "rgba", "nx", "ny"}
//                                    -> {"hash"}  (ThumbHash as base64)
import { decode, encode, isBlurhashValid } from "blurhash";
import {
  rgbaToThumbHash,
  thumbHashToApproximateAspectRatio,
  thumbHashToAverageRGBA,
  thumbHashToRGBA,
} from "thumbhash";

function one(req) {
  if (req.encode === "blurhash") {
    return { hash: encode(Uint8ClampedArray.from(req.rgba), req.width, req.height, req.nx, req.ny) };
  }
  if (req.encode === "thumbhash") {
    const hash = rgbaToThumbHash(req.width, req.height, Uint8Array.from(req.rgba));
    return { hash: Buffer.from(hash).toString("base64") };
  }
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
