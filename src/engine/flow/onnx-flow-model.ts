// A trained Part B checkpoint served by onnxruntime: exported in memory at load time, then used
// as a FlowModel by the Euler sampler (and by the MNIST denoiser of Part A).
import { OnnxSession, type Feed, type SessionOptions } from '../runtime/onnx.js';
import { exportUNetToOnnx, FLOW_INPUTS, FLOW_OUTPUT } from './onnx-export.js';
import { NUM_CLASSES, type UNetSpec } from './unet.js';
import type { FlowModel } from './euler.js';

export interface OnnxFlowModel extends FlowModel {
  readonly spec: UNetSpec;
  readonly session: OnnxSession;
  dispose(): Promise<void>;
}

export async function loadOnnxFlowModel(
  spec: UNetSpec,
  weights: Map<string, Float32Array>,
  opts: SessionOptions = {},
): Promise<OnnxFlowModel> {
  const bytes = exportUNetToOnnx(spec, weights);
  // Not spinning: a worker holds several of these small models, and a guided time model takes turns
  // with its guide every step; sampling one model alone costs the same either way (measured).
  const session = await OnnxSession.load(`mnist-${spec.kind}-d${spec.hidden}`, bytes, {
    log: () => {},
    spinning: false,
    ...opts,
  });
  return {
    spec,
    session,
    conditional: spec.kind === 'class',
    async velocity(x, t, classes, batch) {
      const feeds: Record<string, Feed> = {
        [FLOW_INPUTS.x]: { type: 'float32', dims: [batch, 1, 28, 28], data: x.subarray(0, batch * 784) },
      };
      if (spec.kind !== 'denoiser')
        feeds[FLOW_INPUTS.t] = { type: 'float32', dims: [batch, 1], data: t.subarray(0, batch) };
      if (spec.kind === 'class') {
        const oneHot = new Float32Array(batch * NUM_CLASSES);
        for (let i = 0; i < batch; i++) if (classes[i]! >= 0) oneHot[i * NUM_CLASSES + classes[i]!] = 1;
        feeds[FLOW_INPUTS.c] = { type: 'float32', dims: [batch, NUM_CLASSES], data: oneHot };
      }
      const out = await session.run(feeds);
      return out[FLOW_OUTPUT]!.data as Float32Array;
    },
    dispose: () => session.dispose(),
  };
}
