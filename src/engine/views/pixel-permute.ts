// pixel_permute: one fixed, seeded random permutation of the pixel positions of a 64×64 grid (the extreme
// anagram). Larger images (stage II's 256 px) move blocks of side/64 pixels in that same order, as
// visual_anagrams does (its pixel_permute is a 64-per-side patch permutation): the upscaled illusion
// then permutes like the 64 px one it came from. Images of at most 64 px (28 px digits) permute
// every pixel.
import { Rng } from '../random.js';
import { permutationFrom, permutationView, type View, type ViewContext } from './view.js';

/** Cells per side of the permuted grid (stage I's image side). */
export const PIXEL_GRID = 64;

export function pixelPermuteView(ctx: ViewContext): View {
  const { height: h, width: w } = ctx;
  const gh = Math.min(h, PIXEL_GRID),
    gw = Math.min(w, PIXEL_GRID);
  if (h % gh !== 0 || w % gw !== 0) {
    throw new RangeError(
      `pixel_permute permutes a ${PIXEL_GRID}×${PIXEL_GRID} grid above ${PIXEL_GRID} px: the sides must be multiples of ${PIXEL_GRID}, got ${w}×${h}`,
    );
  }
  const order = Int32Array.from({ length: gh * gw }, (_, i) => i);
  new Rng(ctx.seed ?? 0).shuffle(order);
  if (gh === h && gw === w) return permutationView('pixel_permute', order);
  const bh = h / gh,
    bw = w / gw;
  const src = permutationFrom(h, w, (y, x) => {
    const from = order[Math.floor(y / bh) * gw + Math.floor(x / bw)]!;
    return [Math.floor(from / gw) * bh + (y % bh), (from % gw) * bw + (x % bw)];
  });
  return permutationView('pixel_permute', src);
}
