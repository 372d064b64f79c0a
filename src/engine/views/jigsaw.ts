// jigsaw: a 4×4 grid of square pieces, shuffled and each turned by a multiple of 90° (fixed by the seed).
// visual_anagrams cuts interlocking pieces; square ones keep the view an exact permutation at any size.
import { Rng } from '../random.js';
import { permutationFrom, permutationView, type View, type ViewContext } from './view.js';

export const JIGSAW_GRID = 4;

export function jigsawView(ctx: ViewContext): View {
  const { height: h, width: w } = ctx;
  const g = JIGSAW_GRID;
  if (h !== w || h % g !== 0)
    throw new RangeError(`jigsaw needs a square image with a side divisible by ${g}, got ${w}×${h}`);
  const p = h / g;
  const rng = new Rng(ctx.seed ?? 0);
  const order = Int32Array.from({ length: g * g }, (_, i) => i);
  rng.shuffle(order);
  const turns = Int32Array.from({ length: g * g }, () => rng.int(4));
  const src = permutationFrom(h, w, (y, x) => {
    const slot = Math.floor(y / p) * g + Math.floor(x / p);
    const from = order[slot]!;
    let py = y % p,
      px = x % p;
    // Undo `turns` clockwise quarter turns of the piece to find the source pixel inside it.
    for (let k = 0; k < turns[slot]!; k++) [py, px] = [p - 1 - px, py];
    return [Math.floor(from / g) * p + py, (from % g) * p + px];
  });
  return permutationView('jigsaw', src);
}
