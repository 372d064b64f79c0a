// The UNet under training as a FlowModel (eval-mode BatchNorm), for per-epoch sample grids
// drawn by the trainer itself; served sampling uses the ONNX export instead.
import { tf } from '../runtime/tf.js';
import { NUM_CLASSES, type UNet } from './unet.js';
import type { FlowModel } from './euler.js';

export function tfFlowModel(net: UNet): FlowModel {
  return {
    conditional: net.spec.kind === 'class',
    async velocity(x, t, classes, batch) {
      const out = tf.tidy(() => {
        const xt = tf.tensor4d(x, [batch, 28, 28, 1]);
        const tt = tf.tensor2d(t, [batch, 1]);
        const oneHot = new Float32Array(batch * NUM_CLASSES);
        classes.forEach((c, i) => { if (c >= 0) oneHot[i * NUM_CLASSES + c] = 1; });
        const c = net.spec.kind === 'class' ? tf.tensor2d(oneHot, [batch, NUM_CLASSES]) : undefined;
        return net.forward(xt, { t: net.spec.kind === 'denoiser' ? undefined : tt, c, training: false });
      });
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
  };
}
