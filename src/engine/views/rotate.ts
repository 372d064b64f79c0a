// Quarter turns clockwise / counter-clockwise (square images only: the view must keep the shape).
import { permutationFrom, permutationView, rotateFrame, type View, type ViewContext } from './view.js';

function checkSquare(name: string, ctx: ViewContext): number {
  if (ctx.height !== ctx.width) throw new RangeError(`${name} needs a square image, got ${ctx.width}×${ctx.height}`);
  return ctx.height;
}

/** Output (y, x) shows input (n−1−x, y): the picture turned 90° clockwise. */
export function rotateCwView(ctx: ViewContext): View {
  const n = checkSquare('rotate_cw', ctx);
  const src = permutationFrom(n, n, (y, x) => [n - 1 - x, y]);
  return permutationView('rotate_cw', src, (img, t) => rotateFrame(img, 90 * t, ctx.background));
}

export function rotateCcwView(ctx: ViewContext): View {
  const n = checkSquare('rotate_ccw', ctx);
  const src = permutationFrom(n, n, (y, x) => [x, n - 1 - y]);
  return permutationView('rotate_ccw', src, (img, t) => rotateFrame(img, -90 * t, ctx.background));
}
