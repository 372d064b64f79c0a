// inner_circle: the disc of radius 24 px at 64 px (scaled with size) turned 180°, the ring left alone.
// The disc is centred on the pixel grid's centre so the turn maps disc pixels onto disc pixels.
import { permutationFrom, permutationView, rotateFrame, type View, type ViewContext } from './view.js';

export function innerCircleView(ctx: ViewContext): View {
  const { height: h, width: w } = ctx;
  const r = (24 * Math.min(h, w)) / 64;
  const cy = (h - 1) / 2,
    cx = (w - 1) / 2;
  const inside = (y: number, x: number): boolean => (y - cy) ** 2 + (x - cx) ** 2 <= r * r;
  const src = permutationFrom(h, w, (y, x) => (inside(y, x) ? [h - 1 - y, w - 1 - x] : [y, x]));
  return permutationView('inner_circle', src, (img, t) => rotateFrame(img, 180 * t, ctx.background, inside));
}
