// An IF UNet read straight from a Hugging Face `unet/` folder (config.json + diffusion_pytorch_model
// [.fp16].safetensors): the graph is built in memory and its initializers point into the safetensors
// file, which onnxruntime resolves through the session's external-data folder, so nothing is written
// next to the (possibly read-only) download and no weights are copied into the model.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OnnxSession, type SessionOptions } from '../../runtime/onnx.js';
import type { Tensor } from '../../tensor.js';
import { toFloat32 } from '../../runtime/half.js';
import { externalDataRoot, readSafetensorsHeader } from './hf-safetensors.js';
import { parseUnetConfig, textInputDim, type IfUnetConfig } from './unet-config.js';
import { SafetensorsWeights, buildUnetGraph, spatialMultiple } from './unet-graph.js';

export interface IfUnetLoadOptions extends SessionOptions {
  /** 'fp16' reads diffusion_pytorch_model.fp16.safetensors (computed in float32 after a one-time widening). */
  variant?: 'fp16';
}

/** What loading measured (for logs and benchmarks). */
export interface IfUnetLoadInfo {
  weightsFile: string;
  parameters: number;
  graphBytes: number;
  buildMs: number;
  sessionMs: number;
}

export class IfUnet {
  private constructor(
    readonly config: IfUnetConfig,
    private readonly session: OnnxSession,
    readonly info: IfUnetLoadInfo,
  ) {}

  static async load(unetFolder: string, opts: IfUnetLoadOptions = {}): Promise<IfUnet> {
    const dir = resolve(unetFolder);
    const configPath = join(dir, 'config.json');
    if (!existsSync(configPath))
      throw new Error(
        `${configPath} not found: expected a Hugging Face unet/ folder (config.json + diffusion_pytorch_model.safetensors)`,
      );
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new Error(`${configPath}: not valid JSON (${(err as Error).message})`);
    }
    const config = parseUnetConfig(raw);
    if (opts.variant !== undefined && opts.variant !== 'fp16')
      throw new RangeError(`variant "${String(opts.variant)}" is not supported; supported: fp16 or none`);
    const weightsFile =
      opts.variant === 'fp16' ? 'diffusion_pytorch_model.fp16.safetensors' : 'diffusion_pytorch_model.safetensors';
    const weightsPath = join(dir, weightsFile);
    if (!existsSync(weightsPath))
      throw new Error(`${weightsPath} not found${opts.variant ? '' : ' (for the fp16 download pass variant: "fp16")'}`);
    const t0 = performance.now();
    // Symlinked downloads: onnxruntime reads external data only below the folder it is given.
    const root = externalDataRoot([weightsPath]);
    const weights = new SafetensorsWeights(readSafetensorsHeader(weightsPath), root.location(weightsPath));
    const graph = buildUnetGraph(config, weights);
    weights.checkAllUsed();
    const t1 = performance.now();
    const { variant: _variant, ...sessionOpts } = opts;
    const session = await OnnxSession.load(`IF UNet (${dir})`, graph.bytes, {
      ...sessionOpts,
      externalDataDir: root.dir,
    });
    const t2 = performance.now();
    return new IfUnet(config, session, {
      weightsFile: weightsPath,
      parameters: graph.parameters,
      graphBytes: graph.bytes.byteLength,
      buildMs: t1 - t0,
      sessionMs: t2 - t1,
    });
  }

  get needsClassLabels(): boolean {
    return this.config.classEmbedTimestep;
  }

  /**
   * One forward call, as diffusers' `unet(sample, timestep, encoder_hidden_states, class_labels).sample`.
   * `timesteps` / `classLabels`: one value for every row or one per row. `ehs`: [B, L, D] row-major.
   */
  async predict(
    sample: Tensor,
    timesteps: number | readonly number[],
    ehs: Float32Array,
    classLabels?: number | readonly number[],
  ): Promise<Float32Array> {
    const cfg = this.config;
    const [b, c, hgt, wid] = sample.shape;
    if (c !== cfg.inChannels) throw new RangeError(`sample has ${c} channels; this UNet takes ${cfg.inChannels}`);
    const m = spatialMultiple(cfg);
    if (hgt % m !== 0 || wid % m !== 0)
      throw new RangeError(`sample is ${hgt}×${wid}; height and width must be multiples of ${m} for this UNet`);
    const d = textInputDim(cfg);
    if (ehs.length === 0 || ehs.length % (b * d) !== 0)
      throw new RangeError(
        `encoder_hidden_states has ${ehs.length} values; expected [${b}, L, ${d}] for a batch of ${b}`,
      );
    const perRow = (what: string, v: number | readonly number[]): Float32Array => {
      const vals = typeof v === 'number' ? new Array<number>(b).fill(v) : [...v];
      if (vals.length !== b)
        throw new RangeError(`${what} has ${vals.length} values for a batch of ${b}; give one number or one per row`);
      if (!vals.every(Number.isFinite))
        throw new RangeError(`${what} must be finite numbers, got [${vals.join(', ')}]`);
      return Float32Array.from(vals);
    };
    const feeds: Parameters<OnnxSession['run']>[0] = {
      sample: { type: 'float32', dims: [...sample.shape], data: sample.data },
      timestep: { type: 'float32', dims: [b], data: perRow('timesteps', timesteps) },
      encoder_hidden_states: { type: 'float32', dims: [b, ehs.length / (b * d), d], data: ehs },
    };
    if (cfg.classEmbedTimestep) {
      if (classLabels === undefined)
        throw new RangeError(
          'this UNet (class_embed_type "timestep", stage II) needs classLabels: the noise level of the conditioning image per row',
        );
      feeds.class_labels = { type: 'float32', dims: [b], data: perRow('classLabels', classLabels) };
    } else if (classLabels !== undefined) {
      throw new RangeError('this UNet has no class embedding (stage I); classLabels must be left out');
    }
    const out = await this.session.run(feeds);
    return toFloat32(out.out!.data);
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
