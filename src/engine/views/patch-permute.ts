// patch_permute: a fixed random permutation of square patches (8 px at 64 px, visual_anagrams). Patch
// size scales with the image: the divisor of the side nearest side/8, so 4 px (a 7×7 grid) at 28 px.
import { Rng } from '../random.js';
import { permutationFrom, permutationView, type View, type ViewContext } from './view.js';

/** The divisor of `side` nearest side/8 (ties to the larger), at least 1. */
export function patchSizeFor(side: number): number {
  let best = 1;
  for (let d = 1; d <= side; d++) {
    if (side % d === 0 && Math.abs(d - side / 8) <= Math.abs(best - side / 8)) best = d;
  }
  return best;
}

export function patchPermuteView(ctx: ViewContext): View {
  const { height: h, width: w } = ctx;
  const p = patchSizeFor(Math.min(h, w));
  if (h % p !== 0 || w % p !== 0)
    throw new RangeError(`patch_permute needs sides divisible by the patch size ${p}, got ${w}×${h}`);
  const gh = h / p,
    gw = w / p;
  const order = Int32Array.from({ length: gh * gw }, (_, i) => i);
  new Rng(ctx.seed ?? 0).shuffle(order);
  const src = permutationFrom(h, w, (y, x) => {
    const from = order[Math.floor(y / p) * gw + Math.floor(x / p)]!;
    return [Math.floor(from / gw) * p + (y % p), (from % gw) * p + (x % p)];
  });
  return permutationView('patch_permute', src);
}
