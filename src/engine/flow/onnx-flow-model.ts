// A trained Part B checkpoint served by onnxruntime: exported in memory at load time (or read from
// the export cache), then used as a FlowModel by the Euler sampler (and by the MNIST denoiser of Part A).
import { existsSync, readFileSync } from 'node:fs';
import { OnnxSession, type Feed, type SessionOptions } from '../runtime/onnx.js';
import { FLOW_INPUTS, FLOW_OUTPUT } from './flow-io.js';
import { exportPath, readExport, writeExport } from './onnx-export-cache.js';
import { safetensorsMetadata } from './safetensors.js';
import { checkpointSpec, loadCheckpoint } from './trainer.js';
import { NUM_CLASSES, type UNetSpec } from './unet.js';
import type { FlowModel } from './euler.js';

export interface OnnxFlowModel extends FlowModel {
  readonly spec: UNetSpec;
  readonly session: OnnxSession;
  dispose(): Promise<void>;
}

/** Exports the UNet (its exporter, with onnx-proto, loaded on the first export) and serves it. */
export async function loadOnnxFlowModel(
  spec: UNetSpec,
  weights: Map<string, Float32Array>,
  opts: SessionOptions = {},
): Promise<OnnxFlowModel> {
  const { exportUNetToOnnx } = await import('./onnx-export.js');
  return serveFlowModel(spec, exportUNetToOnnx(spec, weights), opts);
}

/**
 * The checkpoint at `path` (its EMA weights where it has them), served. With `exportCache`, a
 * folder, its export is read from there when an earlier load left it, and left there otherwise.
 */
export async function loadOnnxFlowCheckpoint(
  path: string,
  opts: SessionOptions & { exportCache?: string } = {},
): Promise<OnnxFlowModel> {
  const { exportCache, ...session } = opts;
  // A missing checkpoint is left to loadCheckpoint below, which says so.
  const file = exportCache !== undefined && existsSync(path) ? readFileSync(path) : undefined;
  const cached = exportCache === undefined || file === undefined ? undefined : exportPath(exportCache, file);
  const bytes = cached === undefined ? undefined : readExport(cached);
  if (file !== undefined && bytes !== undefined) {
    const spec = checkpointSpec(safetensorsMetadata(file, path), path);
    try {
      return await serveFlowModel(spec, bytes, session);
    } catch {
      // A file onnxruntime cannot read (cut short by a crash): exported again below.
    }
  }
  const { spec, servingWeights } = loadCheckpoint(path);
  const { exportUNetToOnnx } = await import('./onnx-export.js');
  const exported = exportUNetToOnnx(spec, servingWeights);
  const model = await serveFlowModel(spec, exported, session);
  if (cached !== undefined) writeExport(cached, exported);
  return model;
}

async function serveFlowModel(spec: UNetSpec, bytes: Uint8Array, opts: SessionOptions): Promise<OnnxFlowModel> {
  // A time model takes turns with its guide every step, and spinning threads of one would hold the
  // cores from the other: they sleep. A class model runs alone (CFG's two halves in one batch), and
  // threads that spin between its small kernels make an evaluation 15–20% faster (batch 80, D = 32,
  // 2 cores: 105 against 122–135 ms).
  const session = await OnnxSession.load(`mnist-${spec.kind}-d${spec.hidden}`, bytes, {
    log: () => {},
    spinning: spec.kind !== 'time',
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
