// The identity view: the first view of every anagram and both views of a hybrid image.
import type { View, ViewContext } from './view.js';

export function identityView(_ctx?: ViewContext): View {
  return { name: 'identity', view: (x) => x, inverseView: (eps) => eps, frame: (img) => img };
}
