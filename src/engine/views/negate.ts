// The negative anagram: x ↦ −x, orthogonal for pixels centred on 0 ([−1, 1]). The inverse negates ε but
// never the variance (a variance estimate is a property of the noise level, not of the sign).
import { fadeFrame, type View, type ViewContext } from './view.js';
import { scale } from '../tensor.js';

export function negateView(_ctx?: ViewContext): View {
  return {
    name: 'negate',
    view: (x) => scale(x, -1),
    inverseView: (eps) => scale(eps, -1),
    inverseVariance: (v) => v,
    frame: (img, t) => fadeFrame(img, scale(img, -1), t),
  };
}
