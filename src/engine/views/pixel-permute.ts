// pixel_permute: one fixed, seeded random permutation of all pixel positions (the extreme anagram).
import { Rng } from '../random.js';
import { permutationView, type View, type ViewContext } from './view.js';

export function pixelPermuteView(ctx: ViewContext): View {
  const src = Int32Array.from({ length: ctx.height * ctx.width }, (_, i) => i);
  new Rng(ctx.seed ?? 0).shuffle(src);
  return permutationView('pixel_permute', src);
}
