// flip_vertical: visual_anagrams' own `flip` (torch.flip over the rows: upside down, left and right kept).
// The write-up's `flip` turns the image 180° instead; this one replays visual_anagrams' anagrams.
import { permutationFrom, permutationView, type View, type ViewContext } from './view.js';

export function flipVerticalView(ctx: ViewContext): View {
  const { height: h, width: w } = ctx;
  return permutationView(
    'flip_vertical',
    permutationFrom(h, w, (y, x) => [h - 1 - y, x]),
  );
}
