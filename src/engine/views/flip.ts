// The write-up's flip anagram: a 180° turn (flip both axes), a permutation; its frame rotates by 180·t.
import { permutationFrom, permutationView, rotateFrame, type View, type ViewContext } from './view.js';

export function flipView(ctx: ViewContext): View {
  const { height: h, width: w } = ctx;
  const src = permutationFrom(h, w, (y, x) => [h - 1 - y, w - 1 - x]);
  return permutationView('flip', src, (img, t) => rotateFrame(img, 180 * t, ctx.background));
}
