// DeepFloyd IF's UNet2DConditionModel (diffusers v0.25 semantics) as an ONNX graph, built from its
// config.json. Weights are never copied: each parameter is an external-data initializer pointing at its
// byte range in the Hugging Face safetensors file. Compute is float32; fp16 checkpoints are widened by a
// Cast that onnxruntime folds once when the session is created.
import { GraphBuilder, attr } from '../../onnx/graph-builder.js';
import { onnxTypeOf, type SafetensorInfo } from './hf-safetensors.js';
import { textInputDim, type Activation, type IfUnetConfig } from './unet-config.js';

/** Supplies the graph's parameters by their diffusers state-dict names. */
export interface WeightSource {
  /** Adds parameter `name` of `shape` to the graph; returns a float32 value holding it. */
  param(g: GraphBuilder, name: string, shape: readonly number[]): string;
}

export class UnetWeightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnetWeightsError';
  }
}

/** Parameters from one safetensors file, which must hold exactly the tensors the config implies. */
export class SafetensorsWeights implements WeightSource {
  private readonly used = new Set<string>();

  /** `location`: the file's name relative to the folder onnxruntime resolves external data in. */
  constructor(
    private readonly header: { readonly tensors: ReadonlyMap<string, SafetensorInfo> },
    private readonly location: string,
  ) {}

  param(g: GraphBuilder, name: string, shape: readonly number[]): string {
    const e = this.header.tensors.get(name);
    if (!e)
      throw new UnetWeightsError(
        `${this.location} lacks tensor "${name}" [${shape.join(', ')}] that unet/config.json implies`,
      );
    if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      throw new UnetWeightsError(
        `${this.location}: tensor "${name}" is [${e.shape.join(', ')}], unet/config.json implies [${shape.join(', ')}]`,
      );
    }
    if (e.dtype !== 'F32' && e.dtype !== 'F16')
      throw new UnetWeightsError(`${this.location}: tensor "${name}" is ${e.dtype}; weights must be F32 or F16`);
    this.used.add(name);
    g.externalInitializer(name, onnxTypeOf(e), [...shape], {
      location: this.location,
      offset: e.offset,
      length: e.byteLength,
    });
    return e.dtype === 'F32' ? name : g.node('Cast', [name], [`${name}::f32`], { to: 1 })[0]!;
  }

  /** Throws when the file holds tensors the config did not use (a config/weights mismatch). */
  checkAllUsed(): void {
    const extra = [...this.header.tensors.keys()].filter((k) => !this.used.has(k));
    if (extra.length) {
      throw new UnetWeightsError(
        `${this.location} holds ${extra.length} tensors that unet/config.json does not use: ${extra.slice(0, 8).join(', ')}${extra.length > 8 ? ', …' : ''}`,
      );
    }
  }
}

/** Declares parameters without data: builds the graph's structure (and counts it) with no weights file. */
export class StructureOnlyWeights implements WeightSource {
  private offset = 0;

  param(g: GraphBuilder, name: string, shape: readonly number[]): string {
    const length = shape.reduce((a, b) => a * b, 1) * 4;
    g.externalInitializer(name, 'float32', [...shape], { location: 'structure-only.bin', offset: this.offset, length });
    this.offset += length;
    return name;
  }
}

export interface UnetGraph {
  bytes: Uint8Array;
  /** Number of parameter values (what torch's sum(p.numel()) says). */
  parameters: number;
  parameterTensors: number;
  inputs: string[];
}

/** IF's sinusoid frequencies, rounded step by step in float32 as torch computes them. */
function timestepFrequencies(dim: number, freqShift: number): Float32Array {
  const half = Math.floor(dim / 2);
  const f = new Float32Array(half);
  const lnMax = Math.fround(-Math.log(10000));
  for (let i = 0; i < half; i++) f[i] = Math.fround(Math.exp(Math.fround(Math.fround(lnMax * i) / (half - freqShift))));
  return f;
}

class UnetBuilder {
  readonly g = new GraphBuilder('deepfloyd-if-unet');
  private readonly consts = new Map<string, string>();
  parameters = 0;
  parameterTensors = 0;

  constructor(
    private readonly cfg: IfUnetConfig,
    private readonly weights: WeightSource,
  ) {}

  private w(name: string, shape: readonly number[]): string {
    this.parameters += shape.reduce((a, b) => a * b, 1);
    this.parameterTensors++;
    return this.weights.param(this.g, name, shape);
  }

  private constF(values: number[], dims: number[]): string {
    const key = `f:${dims.join('x')}:${values.join(',')}`;
    let n = this.consts.get(key);
    if (!n) {
      n = this.g.initializer(this.g.fresh('const'), new Float32Array(values), dims);
      this.consts.set(key, n);
    }
    return n;
  }

  private constI(values: number[]): string {
    const key = `i:${values.join(',')}`;
    let n = this.consts.get(key);
    if (!n) {
      n = this.g.initializer(this.g.fresh('shape'), new BigInt64Array(values.map(BigInt)), [values.length]);
      this.consts.set(key, n);
    }
    return n;
  }

  private scalar(v: number): string {
    return this.constF([v], []);
  }

  act(x: string, a: Activation): string {
    if (a === 'gelu') return this.g.op('Gelu', [x]);
    if (a === 'relu') return this.g.op('Relu', [x]);
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  /** nn.Linear on the last axis of any rank. */
  linear(x: string, prefix: string, inF: number, outF: number): string {
    const wt = this.g.op('Transpose', [this.w(`${prefix}.weight`, [outF, inF])], { perm: [1, 0] });
    return this.g.op('Add', [this.g.op('MatMul', [x, wt]), this.w(`${prefix}.bias`, [outF])]);
  }

  conv(x: string, prefix: string, inC: number, outC: number, k: number): string {
    const p = (k - 1) / 2;
    return this.g.op('Conv', [x, this.w(`${prefix}.weight`, [outC, inC, k, k]), this.w(`${prefix}.bias`, [outC])], {
      kernel_shape: [k, k],
      pads: [p, p, p, p],
    });
  }

  /** nn.GroupNorm on [B, C, ...]: per-group statistics via InstanceNormalization, then the affine per channel. */
  groupNorm(x: string, prefix: string, groups: number, channels: number, eps: number, spatialRank: number): string {
    const grouped = this.g.op('Reshape', [x, this.constI([0, groups, -1])]);
    const normed = this.g.op(
      'InstanceNormalization',
      [grouped, this.constF(new Array(groups).fill(1), [groups]), this.constF(new Array(groups).fill(0), [groups])],
      {
        epsilon: attr.float(eps),
      },
    );
    const back = this.g.op('Reshape', [normed, this.g.op('Shape', [x])]);
    const affine = [channels, ...new Array(spatialRank).fill(1)];
    const gamma = this.g.op('Reshape', [this.w(`${prefix}.weight`, [channels]), this.constI(affine)]);
    const beta = this.g.op('Reshape', [this.w(`${prefix}.bias`, [channels]), this.constI(affine)]);
    return this.g.op('Add', [this.g.op('Mul', [back, gamma]), beta]);
  }

  layerNorm(x: string, prefix: string, dim: number, eps = 1e-5): string {
    return this.g.op('LayerNormalization', [x, this.w(`${prefix}.weight`, [dim]), this.w(`${prefix}.bias`, [dim])], {
      axis: -1,
      epsilon: attr.float(eps),
    });
  }

  /** diffusers' Timesteps: [B] → [B, dim] sinusoid ([cos, sin] when flip_sin_to_cos). */
  timestepProjection(t: string, dim: number): string {
    const freqs = timestepFrequencies(dim, this.cfg.freqShift);
    const half = freqs.length;
    const args = this.g.op('Mul', [this.g.op('Unsqueeze', [t, this.constI([1])]), this.constF([...freqs], [1, half])]);
    const sin = this.g.op('Sin', [args]);
    const cos = this.g.op('Cos', [args]);
    let emb = this.g.op('Concat', this.cfg.flipSinToCos ? [cos, sin] : [sin, cos], { axis: 1 });
    if (dim % 2 === 1) emb = this.g.op('Pad', [emb, this.constI([0, 0, 0, 1])]);
    return emb;
  }

  timestepEmbedding(x: string, prefix: string, inDim: number, outDim: number): string {
    const h = this.act(this.linear(x, `${prefix}.linear_1`, inDim, outDim), this.cfg.act);
    return this.linear(h, `${prefix}.linear_2`, outDim, outDim);
  }

  /** TextTimeEmbedding: LayerNorm → AttentionPooling (class token = mean + positional) → Linear → LayerNorm. */
  textTimeEmbedding(ehs: string, dim: number, outDim: number, heads: number): string {
    const p = 'add_embedding';
    const x = this.layerNorm(ehs, `${p}.norm1`, dim);
    const pos = this.w(`${p}.pool.positional_embedding`, [1, dim]);
    const cls = this.g.op('Add', [this.g.op('ReduceMean', [x, this.constI([1])], { keepdims: 1 }), pos]);
    const seq = this.g.op('Concat', [cls, x], { axis: 1 });
    const dph = dim / heads;
    const split = (v: string): string =>
      this.g.op('Transpose', [this.g.op('Reshape', [v, this.constI([0, 0, heads, dph])])], { perm: [0, 2, 1, 3] });
    const scale = this.scalar(Math.fround(1 / Math.sqrt(Math.sqrt(dph))));
    const q = this.g.op('Mul', [split(this.linear(cls, `${p}.pool.q_proj`, dim, dim)), scale]);
    const k = this.g.op('Mul', [split(this.linear(seq, `${p}.pool.k_proj`, dim, dim)), scale]);
    const v = split(this.linear(seq, `${p}.pool.v_proj`, dim, dim));
    const wts = this.g.op('Softmax', [this.g.op('MatMul', [q, this.g.op('Transpose', [k], { perm: [0, 1, 3, 2] })])], {
      axis: -1,
    });
    const pooled = this.g.op('Reshape', [this.g.op('MatMul', [wts, v]), this.constI([0, dim])]);
    return this.layerNorm(this.linear(pooled, `${p}.proj`, dim, outDim), `${p}.norm2`, outDim);
  }

  /** ResnetBlock2D with optional nearest ×2 up / 2×2 average-pool down inside, as diffusers' resnet samplers. */
  resnet(
    x: string,
    temb: string,
    prefix: string,
    inC: number,
    outC: number,
    scaleFactor: number,
    sample: 'up' | 'down' | null = null,
  ): string {
    const cfg = this.cfg;
    let input = x;
    let h = this.act(this.groupNorm(x, `${prefix}.norm1`, cfg.normGroups, inC, cfg.normEps, 2), cfg.act);
    if (sample === 'up') {
      const resize = (v: string): string =>
        this.g.op('Resize', [v, '', this.constF([1, 1, 2, 2], [4])], {
          mode: 'nearest',
          coordinate_transformation_mode: 'asymmetric',
          nearest_mode: 'floor',
        });
      input = resize(input);
      h = resize(h);
    } else if (sample === 'down') {
      const pool = (v: string): string => this.g.op('AveragePool', [v], { kernel_shape: [2, 2], strides: [2, 2] });
      input = pool(input);
      h = pool(h);
    }
    h = this.conv(h, `${prefix}.conv1`, inC, outC, 3);
    const t = cfg.resnetSkipTimeAct ? temb : this.act(temb, cfg.act);
    const tp = this.g.op('Unsqueeze', [
      this.linear(t, `${prefix}.time_emb_proj`, cfg.timeEmbedDim, cfg.scaleShift ? 2 * outC : outC),
      this.constI([2, 3]),
    ]);
    if (cfg.scaleShift) {
      const [scale, shift] = this.g.node(
        'Split',
        [tp, this.constI([outC, outC])],
        [this.g.fresh('scale'), this.g.fresh('shift')],
        { axis: 1 },
      );
      h = this.groupNorm(h, `${prefix}.norm2`, cfg.normGroups, outC, cfg.normEps, 2);
      h = this.g.op('Add', [this.g.op('Mul', [h, this.g.op('Add', [scale!, this.scalar(1)])]), shift!]);
    } else {
      h = this.groupNorm(this.g.op('Add', [h, tp]), `${prefix}.norm2`, cfg.normGroups, outC, cfg.normEps, 2);
    }
    h = this.conv(this.act(h, cfg.act), `${prefix}.conv2`, outC, outC, 3);
    if (inC !== outC) input = this.conv(input, `${prefix}.conv_shortcut`, inC, outC, 1);
    return this.g.op('Div', [this.g.op('Add', [input, h]), this.scalar(scaleFactor)]);
  }

  /** Attention with AttnAddedKVProcessor: keys/values = [text (added) ; spatial unless only_cross_attention]. */
  attention(
    x: string,
    ehs: string,
    prefix: string,
    channels: number,
    headDim: number,
    crossDim: number,
    onlyCross: boolean,
  ): string {
    const cfg = this.cfg;
    const heads = Math.floor(channels / headDim);
    const inner = heads * headDim;
    let text = ehs;
    if (cfg.crossAttentionNorm === 'group_norm') {
      // Each text channel normalised over the positions: GroupNorm(32) on the states transposed to [B, D, L].
      const tr = this.g.op('Transpose', [ehs], { perm: [0, 2, 1] });
      text = this.g.op('Transpose', [this.groupNorm(tr, `${prefix}.norm_cross`, 32, crossDim, 1e-5, 1)], {
        perm: [0, 2, 1],
      });
    } else if (cfg.crossAttentionNorm === 'layer_norm') {
      text = this.layerNorm(ehs, `${prefix}.norm_cross`, crossDim);
    }
    const flat = this.g.op('Reshape', [x, this.constI([0, 0, -1])]);
    const hs = this.g.op(
      'Transpose',
      [this.groupNorm(flat, `${prefix}.group_norm`, cfg.normGroups, channels, cfg.normEps, 1)],
      { perm: [0, 2, 1] },
    );
    const split = (v: string): string =>
      this.g.op('Transpose', [this.g.op('Reshape', [v, this.constI([0, 0, heads, headDim])])], { perm: [0, 2, 1, 3] });
    const q = split(this.linear(hs, `${prefix}.to_q`, channels, inner));
    let k = split(this.linear(text, `${prefix}.add_k_proj`, crossDim, inner));
    let v = split(this.linear(text, `${prefix}.add_v_proj`, crossDim, inner));
    if (!onlyCross) {
      k = this.g.op('Concat', [k, split(this.linear(hs, `${prefix}.to_k`, channels, inner))], { axis: 2 });
      v = this.g.op('Concat', [v, split(this.linear(hs, `${prefix}.to_v`, channels, inner))], { axis: 2 });
    }
    const scores = this.g.op('Mul', [
      this.g.op('MatMul', [q, this.g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]),
      this.scalar(Math.fround(headDim ** -0.5)),
    ]);
    const probs = this.g.op('Softmax', [scores], { axis: -1 });
    const merged = this.g.op('Reshape', [
      this.g.op('Transpose', [this.g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }),
      this.constI([0, 0, inner]),
    ]);
    const out = this.g.op('Transpose', [this.linear(merged, `${prefix}.to_out.0`, inner, channels)], {
      perm: [0, 2, 1],
    });
    return this.g.op('Add', [this.g.op('Reshape', [out, this.g.op('Shape', [x])]), x]);
  }

  build(): UnetGraph {
    const cfg = this.cfg;
    const g = this.g;
    const n = cfg.blockOutChannels.length;
    const c0 = cfg.blockOutChannels[0]!;
    const textDim = textInputDim(cfg);
    const inputs = ['sample', 'timestep', 'encoder_hidden_states'];
    g.input('sample', 'float32', ['batch', cfg.inChannels, 'height', 'width']);
    g.input('timestep', 'float32', ['batch']);
    g.input('encoder_hidden_states', 'float32', ['batch', 'text_length', textDim]);
    if (cfg.classEmbedTimestep) {
      g.input('class_labels', 'float32', ['batch']);
      inputs.push('class_labels');
    }

    let emb = this.timestepEmbedding(this.timestepProjection('timestep', c0), 'time_embedding', c0, cfg.timeEmbedDim);
    if (cfg.classEmbedTimestep) {
      emb = g.op('Add', [
        emb,
        this.timestepEmbedding(this.timestepProjection('class_labels', c0), 'class_embedding', c0, cfg.timeEmbedDim),
      ]);
    }
    if (cfg.textTimeHeads !== null)
      emb = g.op('Add', [
        emb,
        this.textTimeEmbedding('encoder_hidden_states', textDim, cfg.timeEmbedDim, cfg.textTimeHeads),
      ]);
    if (cfg.timeEmbeddingAct) emb = this.act(emb, cfg.timeEmbeddingAct);
    const ehs =
      cfg.encoderHidDim !== null
        ? this.linear('encoder_hidden_states', 'encoder_hid_proj', cfg.encoderHidDim, cfg.crossAttentionDim[0]!)
        : 'encoder_hidden_states';

    let h = 'sample';
    if (cfg.centerInputSample) h = g.op('Sub', [g.op('Mul', [h, this.scalar(2)]), this.scalar(1)]);
    h = this.conv(h, 'conv_in', cfg.inChannels, c0, cfg.convInKernel);

    const skips: { value: string; channels: number }[] = [{ value: h, channels: c0 }];
    let ch = c0;
    for (let i = 0; i < n; i++) {
      const out = cfg.blockOutChannels[i]!;
      const p = `down_blocks.${i}`;
      const attn = cfg.downBlockTypes[i] === 'SimpleCrossAttnDownBlock2D';
      for (let j = 0; j < cfg.layersPerBlock[i]!; j++) {
        h = this.resnet(h, emb, `${p}.resnets.${j}`, j === 0 ? ch : out, out, cfg.resnetOutScaleFactor);
        if (attn)
          h = this.attention(
            h,
            ehs,
            `${p}.attentions.${j}`,
            out,
            cfg.attentionHeadDim[i]!,
            cfg.crossAttentionDim[i]!,
            cfg.onlyCrossAttention[i]!,
          );
        skips.push({ value: h, channels: out });
      }
      ch = out;
      if (i < n - 1) {
        h = this.resnet(h, emb, `${p}.downsamplers.0`, out, out, cfg.resnetOutScaleFactor, 'down');
        skips.push({ value: h, channels: out });
      }
    }

    const top = cfg.blockOutChannels[n - 1]!;
    h = this.resnet(h, emb, 'mid_block.resnets.0', top, top, cfg.midBlockScaleFactor);
    h = this.attention(
      h,
      ehs,
      'mid_block.attentions.0',
      top,
      cfg.attentionHeadDim[n - 1]!,
      cfg.crossAttentionDim[n - 1]!,
      cfg.midOnlyCrossAttention,
    );
    h = this.resnet(h, emb, 'mid_block.resnets.1', top, top, cfg.midBlockScaleFactor);

    for (let i = 0; i < n; i++) {
      const r = n - 1 - i; // the down block this up block mirrors
      const out = cfg.blockOutChannels[r]!;
      const p = `up_blocks.${i}`;
      const attn = cfg.upBlockTypes[i] === 'SimpleCrossAttnUpBlock2D';
      const layers = cfg.layersPerBlock[r]! + 1;
      for (let j = 0; j < layers; j++) {
        const skip = skips.pop()!;
        const inC = ch + skip.channels;
        h = this.resnet(
          g.op('Concat', [h, skip.value], { axis: 1 }),
          emb,
          `${p}.resnets.${j}`,
          inC,
          out,
          cfg.resnetOutScaleFactor,
        );
        ch = out;
        if (attn)
          h = this.attention(
            h,
            ehs,
            `${p}.attentions.${j}`,
            out,
            cfg.attentionHeadDim[r]!,
            cfg.crossAttentionDim[r]!,
            cfg.onlyCrossAttention[r]!,
          );
      }
      if (i < n - 1) h = this.resnet(h, emb, `${p}.upsamplers.0`, out, out, cfg.resnetOutScaleFactor, 'up');
    }

    h = this.act(this.groupNorm(h, 'conv_norm_out', cfg.normGroups, c0, cfg.normEps, 2), cfg.act);
    h = this.conv(h, 'conv_out', c0, cfg.outChannels, cfg.convOutKernel);
    g.node('Identity', [h], ['out']);
    g.output('out', 'float32', ['batch', cfg.outChannels, 'height', 'width']);
    return { bytes: g.toBytes(), parameters: this.parameters, parameterTensors: this.parameterTensors, inputs };
  }
}

export function buildUnetGraph(cfg: IfUnetConfig, weights: WeightSource): UnetGraph {
  return new UnetBuilder(cfg, weights).build();
}

/** The factor H and W must be multiples of: every down block but the last halves them. */
export function spatialMultiple(cfg: IfUnetConfig): number {
  return 2 ** (cfg.blockOutChannels.length - 1);
}
