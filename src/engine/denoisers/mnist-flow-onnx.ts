// The committed (or any) class-conditioned MNIST flow checkpoint, served by onnxruntime, as the
// `mnist-flow` Denoiser every Part A technique runs on.
import { resolveCheckpoint } from '../flow/checkpoints.js';
import { loadOnnxFlowModel, type OnnxFlowModel } from '../flow/onnx-flow-model.js';
import { tensor } from '../tensor.js';
import { MnistFlowDenoiser, type VelocityModel } from './mnist-flow.js';

export function velocityModelOf(model: OnnxFlowModel): VelocityModel {
  return {
    async velocity(x, s, classes) {
      const batch = x.shape[0];
      const u = await model.velocity(x.data, s, classes, batch);
      return tensor([batch, 1, 28, 28], u.slice(0, batch * 784));
    },
  };
}

export interface LoadedMnistDenoiser {
  denoiser: MnistFlowDenoiser;
  checkpointPath: string;
  dispose(): Promise<void>;
}

/** `ref`: committed model name, .safetensors path or run folder; default the committed class model. */
export async function loadMnistFlowDenoiser(ref?: string): Promise<LoadedMnistDenoiser> {
  const { path, checkpoint } = resolveCheckpoint(ref, 'class');
  if (checkpoint.spec.kind !== 'class') {
    throw new Error(
      `${path} holds a ${checkpoint.spec.kind} model; the mnist-flow denoiser needs a class-conditioned one (prompts are digits)`,
    );
  }
  const model = await loadOnnxFlowModel(checkpoint.spec, checkpoint.servingWeights);
  return {
    denoiser: new MnistFlowDenoiser(velocityModelOf(model)),
    checkpointPath: path,
    dispose: () => model.dispose(),
  };
}
