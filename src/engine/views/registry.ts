// Name → view for anagrams and the CLI/commands; adding a view is one file and one line here.
import { flipView } from './flip.js';
import { flipVerticalView } from './flip-vertical.js';
import { identityView } from './identity.js';
import { innerCircleView } from './inner-circle.js';
import { jigsawView } from './jigsaw.js';
import { negateView } from './negate.js';
import { patchPermuteView } from './patch-permute.js';
import { pixelPermuteView } from './pixel-permute.js';
import { rotateCcwView, rotateCwView } from './rotate.js';
import { skewView } from './skew.js';
import type { View, ViewContext, ViewFactory } from './view.js';

const VIEWS = {
  identity: identityView,
  flip: flipView,
  rotate_cw: rotateCwView,
  rotate_ccw: rotateCcwView,
  negate: negateView,
  skew: skewView,
  patch_permute: patchPermuteView,
  pixel_permute: pixelPermuteView,
  inner_circle: innerCircleView,
  jigsaw: jigsawView,
  flip_vertical: flipVerticalView,
} satisfies Record<string, ViewFactory>;

export type ViewName = keyof typeof VIEWS;
export const VIEW_NAMES = Object.keys(VIEWS) as ViewName[];

export function isViewName(name: string): name is ViewName {
  return Object.hasOwn(VIEWS, name);
}

/** The named view for images of the given size; an unknown name lists the allowed ones. */
export function createView(name: string, ctx: ViewContext): View {
  if (!isViewName(name)) throw new RangeError(`unknown view "${name}"; allowed: ${VIEW_NAMES.join(', ')}`);
  return VIEWS[name](ctx);
}
