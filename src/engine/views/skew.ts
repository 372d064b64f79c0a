// The write-up's approximate skew: column i is rolled down by round(linspace(−d, d, w)[i]) pixels (wrapping),
// a permutation unlike a real shear. d = max_disp, 50 at 64 px by default, scaled with the width.
import { permutationFrom, permutationView, type View, type ViewContext } from './view.js';
import { permute } from './view.js';

export function skewShifts(width: number, maxDisp: number): Int32Array {
  return Int32Array.from({ length: width }, (_, i) =>
    Math.round(width === 1 ? 0 : -maxDisp + (2 * maxDisp * i) / (width - 1)),
  );
}

function skewPermutation(h: number, w: number, maxDisp: number): Int32Array {
  const shifts = skewShifts(w, maxDisp);
  return permutationFrom(h, w, (y, x) => [(((y - shifts[x]!) % h) + h) % h, x]);
}

export function skewView(ctx: ViewContext): View {
  const { height: h, width: w } = ctx;
  const maxDisp = ctx.maxDisp ?? Math.round((50 * w) / 64);
  if (!Number.isInteger(maxDisp) || maxDisp < 0)
    throw new RangeError(`skew max_disp must be an integer ≥ 0, got ${maxDisp}`);
  // The frame ramps the displacement from 0 to max_disp (the "skew ramp" animation).
  return permutationView('skew', skewPermutation(h, w, maxDisp), (img, t) =>
    permute(img, skewPermutation(h, w, Math.round(maxDisp * t))),
  );
}
