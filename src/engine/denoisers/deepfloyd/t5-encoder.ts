// The T5 (v1.1) encoder of a Hugging Face `text_encoder/` folder as an ONNX graph this project builds itself
// from config.json and the safetensors shards, the way transformers' T5EncoderModel computes it: token
// embedding (unscaled), per block a pre-norm self-attention with T5's relative position bias (computed from
// the first block's table, shared by all blocks; scores not scaled by 1/√d) and a pre-norm (gated) feed
// forward, RMS layer norms without mean or bias, a final norm. The weights stay in the safetensors files:
// every initializer is ONNX external data pointing at its bytes there, so nothing is copied at build time.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GraphBuilder, type ElementType } from '../../onnx/graph-builder.js';
import { MissingModelError, OnnxSession, type SessionOptions } from '../../runtime/onnx.js';
import { SafetensorsFolder, externalDataRoot, onnxTypeOf } from './hf-safetensors.js';
import { toFloat32 } from '../../runtime/half.js';
import { IF_TEXT_DOWNLOAD_HINT, IF_TEXT_LENGTH, T5Tokenizer, ifPreprocess, requireFile } from './t5-tokenizer.js';

export type T5Activation = 'gelu_new' | 'gelu' | 'relu' | 'silu' | 'swish';

export interface T5EncoderConfig {
  vocabSize: number;
  dModel: number;
  dKv: number;
  numHeads: number;
  dFf: number;
  numLayers: number;
  gated: boolean;
  activation: T5Activation;
  numBuckets: number;
  maxDistance: number;
  epsilon: number;
}

const ACTIVATIONS: readonly T5Activation[] = ['gelu_new', 'gelu', 'relu', 'silu', 'swish'];

/** Reads transformers' T5Config fields (with T5Config's defaults where a key is absent). */
export function parseT5Config(json: Record<string, unknown>, source = 'config.json'): T5EncoderConfig {
  const int = (key: string, fallback?: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new Error(`${source}: "${key}" must be a whole number ≥ 1, not ${JSON.stringify(v)}`);
    return v;
  };
  const proj = json.feed_forward_proj ?? 'relu';
  if (typeof proj !== 'string')
    throw new Error(`${source}: "feed_forward_proj" must be a string such as "gated-gelu" or "relu"`);
  const parts = proj.split('-');
  const gated = parts[0] === 'gated';
  if (parts.length > 2 || (parts.length === 2 && !gated))
    throw new Error(`${source}: feed_forward_proj "${proj}" is not "<act>" or "gated-<act>"`);
  // transformers maps "gated-gelu" to the tanh GELU (T5 v1.1); a saved dense_act_fn overrides either.
  const act =
    typeof json.dense_act_fn === 'string'
      ? json.dense_act_fn
      : proj === 'gated-gelu'
        ? 'gelu_new'
        : parts[parts.length - 1]!;
  if (!ACTIVATIONS.includes(act as T5Activation))
    throw new Error(`${source}: activation "${act}" is not supported; allowed: ${ACTIVATIONS.join(', ')}`);
  const eps = json.layer_norm_epsilon ?? 1e-6;
  if (typeof eps !== 'number' || !(eps > 0))
    throw new Error(`${source}: "layer_norm_epsilon" must be a positive number, not ${JSON.stringify(eps)}`);
  return {
    vocabSize: int('vocab_size', 32128),
    dModel: int('d_model', 512),
    dKv: int('d_kv', 64),
    numHeads: int('num_heads', 8),
    dFf: int('d_ff', 2048),
    numLayers: int('num_layers', 6),
    gated,
    activation: act as T5Activation,
    numBuckets: int('relative_attention_num_buckets', 32),
    maxDistance: int('relative_attention_max_distance', 128),
    epsilon: eps,
  };
}

/**
 * transformers' T5Attention._relative_position_bucket, bidirectional, for keys j and queries i (j − i),
 * in float32 as torch computes it, so the truncation lands on the same side at the log-spaced edges.
 */
export function relativePositionBucket(relative: number, numBuckets: number, maxDistance: number): number {
  const half = Math.floor(numBuckets / 2);
  let bucket = relative > 0 ? half : 0;
  const n = Math.abs(relative);
  const maxExact = Math.floor(half / 2);
  if (n < maxExact) return bucket + n;
  const f = Math.fround;
  const ratio = f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = maxExact + Math.trunc(f(ratio * (half - maxExact)));
  bucket += Math.min(large, half - 1);
  return bucket;
}

/** [length, length] buckets, row = query i, column = key j. */
export function bucketTable(length: number, numBuckets: number, maxDistance: number): BigInt64Array {
  const out = new BigInt64Array(length * length);
  for (let i = 0; i < length; i++)
    for (let j = 0; j < length; j++)
      out[i * length + j] = BigInt(relativePositionBucket(j - i, numBuckets, maxDistance));
  return out;
}

export interface T5GraphOptions {
  /** Token length the position-bias table is built for (IF: 77). */
  length?: number;
  /** A shard's external-data location (default: its file name in `weights.dir`). */
  locate?: (path: string) => string;
}

/**
 * The encoder graph: input_ids, attention_mask int64 [batch, length] → last_hidden_state float32
 * [batch, length, d_model]. Float32 arithmetic; F16 weights are widened by Cast nodes in the graph
 * (onnxruntime folds them once at load). Initializers name their shard files relative to `weights.dir`.
 */
export function buildT5EncoderGraph(
  config: T5EncoderConfig,
  weights: SafetensorsFolder,
  opts: T5GraphOptions = {},
): Uint8Array {
  const L = opts.length ?? IF_TEXT_LENGTH;
  const { dModel: D, dKv, numHeads: H, numLayers } = config;
  const inner = H * dKv;
  const g = new GraphBuilder('t5-encoder', { producer: 'illusionist t5-encoder' });
  g.input('input_ids', 'int64', ['batch', L]);
  g.input('attention_mask', 'int64', ['batch', L]);

  const consts = new Map<string, string>();
  const f32 = (name: string, v: number): string => {
    const key = `f:${name}`;
    let n = consts.get(key);
    if (!n) {
      n = g.initializer(name, new Float32Array([v]), []);
      consts.set(key, n);
    }
    return n;
  };
  const i64 = (name: string, v: number[]): string => {
    const key = `i:${name}`;
    let n = consts.get(key);
    if (!n) {
      n = g.initializer(name, BigInt64Array.from(v.map(BigInt)), [v.length]);
      consts.set(key, n);
    }
    return n;
  };

  /** A weight from the shards, checked against the shape the config implies, widened to float32. */
  const weight = (name: string, shape: number[], aliases: string[] = []): string => {
    const found = [name, ...aliases].find((n) => weights.has(n));
    if (!found)
      throw new Error(
        `${weights.dir}: tensor '${name}' is missing (files ${weights.files.join(', ')}); the download is incomplete or not a T5 encoder`,
      );
    const info = weights.info(found);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new Error(
        `${info.path}: tensor '${found}' is [${info.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`,
      );
    }
    const type: ElementType = onnxTypeOf(info);
    if (type !== 'float32' && type !== 'float16')
      throw new Error(`${info.path}: tensor '${found}' is ${info.dtype}; T5 weights must be F32 or F16`);
    const init = g.externalInitializer(name, type, info.shape, {
      location: opts.locate ? opts.locate(info.path) : info.file,
      offset: info.offset,
      length: info.byteLength,
    });
    return type === 'float32' ? init : g.op('Cast', [init], { to: 1 });
  };

  const rmsNorm = (x: string, w: string): string => {
    const sq = g.op('Pow', [x, f32('two', 2)]);
    const mean = g.op('ReduceMean', [sq, i64('last_axis', [-1])], { keepdims: 1 });
    const denom = g.op('Sqrt', [g.op('Add', [mean, f32('epsilon', config.epsilon)])]);
    return g.op('Mul', [g.op('Div', [x, denom]), w]);
  };
  const linear = (x: string, w: string): string => g.op('Gemm', [x, w], { transB: 1 });
  const activation = (x: string): string => {
    switch (config.activation) {
      case 'relu':
        return g.op('Relu', [x]);
      case 'silu':
      case 'swish':
        return g.op('Mul', [x, g.op('Sigmoid', [x])]);
      case 'gelu':
        return g.op('Gelu', [x]);
      case 'gelu_new': {
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in transformers' order of operations.
        const cube = g.op('Pow', [x, f32('three', 3)]);
        const inner3 = g.op('Add', [x, g.op('Mul', [f32('gelu_c', 0.044715), cube])]);
        const t = g.op('Tanh', [g.op('Mul', [f32('sqrt_2_over_pi', Math.sqrt(2 / Math.PI)), inner3])]);
        return g.op('Mul', [g.op('Mul', [f32('half', 0.5), x]), g.op('Add', [f32('one', 1), t])]);
      }
    }
  };

  // Embedding: [B, L] → [B·L, D] rows; T5 does not scale them.
  const emb = weight('shared.weight', [config.vocabSize, D], ['encoder.embed_tokens.weight']);
  let h = g.op('Reshape', [g.op('Gather', [emb, 'input_ids'], { axis: 0 }), i64('rows', [-1, D])]);

  // Position bias [1, H, L, L] from the first block's table, plus the additive key mask [B, 1, 1, L].
  const relTable = weight('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', [
    config.numBuckets,
    H,
  ]);
  const buckets = g.initializer('relative_position_buckets', bucketTable(L, config.numBuckets, config.maxDistance), [
    L,
    L,
  ]);
  const bias = g.op('Unsqueeze', [
    g.op('Transpose', [g.op('Gather', [relTable, buckets], { axis: 0 })], { perm: [2, 0, 1] }),
    i64('axis0', [0]),
  ]);
  const maskF = g.op('Cast', ['attention_mask'], { to: 1 });
  const FLOAT32_MIN = -3.4028234663852886e38;
  const keyMask = g.op('Mul', [g.op('Sub', [f32('one', 1), maskF]), f32('float32_min', FLOAT32_MIN)]);
  const positionBias = g.op('Add', [bias, g.op('Reshape', [keyMask, i64('mask_shape', [-1, 1, 1, L])])]);

  for (let i = 0; i < numLayers; i++) {
    const p = `encoder.block.${i}.layer`;
    const y = rmsNorm(h, weight(`${p}.0.layer_norm.weight`, [D]));
    const heads = (x: string, perm: number[]): string =>
      g.op('Transpose', [g.op('Reshape', [x, i64('heads_shape', [-1, L, H, dKv])])], { perm });
    const q = heads(linear(y, weight(`${p}.0.SelfAttention.q.weight`, [inner, D])), [0, 2, 1, 3]);
    const kT = heads(linear(y, weight(`${p}.0.SelfAttention.k.weight`, [inner, D])), [0, 2, 3, 1]);
    const v = heads(linear(y, weight(`${p}.0.SelfAttention.v.weight`, [inner, D])), [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('MatMul', [q, kT]), positionBias]);
    const ctx = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
    const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), i64('inner_rows', [-1, inner])]);
    h = g.op('Add', [h, linear(merged, weight(`${p}.0.SelfAttention.o.weight`, [D, inner]))]);

    const z = rmsNorm(h, weight(`${p}.1.layer_norm.weight`, [D]));
    const ff = config.gated
      ? g.op('Mul', [
          activation(linear(z, weight(`${p}.1.DenseReluDense.wi_0.weight`, [config.dFf, D]))),
          linear(z, weight(`${p}.1.DenseReluDense.wi_1.weight`, [config.dFf, D])),
        ])
      : activation(linear(z, weight(`${p}.1.DenseReluDense.wi.weight`, [config.dFf, D])));
    h = g.op('Add', [h, linear(ff, weight(`${p}.1.DenseReluDense.wo.weight`, [D, config.dFf]))]);
  }
  const out = rmsNorm(h, weight('encoder.final_layer_norm.weight', [D]));
  g.node('Reshape', [out, i64('states_shape', [-1, L, D])], ['last_hidden_state']);
  g.output('last_hidden_state', 'float32', ['batch', L, D]);
  return g.toBytes();
}

export type WeightVariant = 'auto' | 'fp32' | 'fp16';

export interface T5TextEncoderOptions extends SessionOptions {
  /** 'auto' (default): the float32 weights when present, else the fp16 variant. */
  variant?: WeightVariant;
  /** Defaults: `<folder>/text_encoder` and `<folder>/tokenizer`. */
  textEncoderDir?: string;
  tokenizerDir?: string;
  length?: number;
}

/** The weights a variant names, or a MissingModelError that lists the files looked for. */
export function openT5Weights(
  dir: string,
  variant: WeightVariant = 'auto',
): { weights: SafetensorsFolder; variant: 'fp32' | 'fp16' } {
  const tryOpen = (v: 'fp32' | 'fp16'): SafetensorsFolder | null =>
    SafetensorsFolder.open(dir, 'model', v === 'fp16' ? 'fp16' : undefined);
  const order: Array<'fp32' | 'fp16'> = variant === 'auto' ? ['fp32', 'fp16'] : [variant];
  for (const v of order) {
    const w = tryOpen(v);
    if (w) return { weights: w, variant: v };
  }
  const looked = order.flatMap((v) => SafetensorsFolder.candidates('model', v === 'fp16' ? 'fp16' : undefined));
  throw new MissingModelError(
    join(dir, looked[0]!),
    `none of ${looked.join(', ')} is in ${dir}.\n${IF_TEXT_DOWNLOAD_HINT}`,
  );
}

/** Tokenizer + encoder of a downloaded DeepFloyd IF stage I folder: prompts → [B, 77, d_model] states. */
export class T5TextEncoder {
  private constructor(
    readonly tokenizer: T5Tokenizer,
    readonly config: T5EncoderConfig,
    readonly variant: 'fp32' | 'fp16',
    private readonly session: OnnxSession,
    /** Milliseconds spent building the graph and creating the session. */
    readonly timings: { buildMs: number; sessionMs: number },
  ) {}

  get length(): number {
    return this.tokenizer.length;
  }

  get dModel(): number {
    return this.config.dModel;
  }

  static async load(folder: string, opts: T5TextEncoderOptions = {}): Promise<T5TextEncoder> {
    const root = resolve(folder);
    const encDir = resolve(opts.textEncoderDir ?? join(root, 'text_encoder'));
    const tokDir = resolve(opts.tokenizerDir ?? join(root, 'tokenizer'));
    const tokenizer = T5Tokenizer.load(tokDir, opts.length === undefined ? {} : { length: opts.length });
    const configPath = requireFile(join(encDir, 'config.json'));
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`${configPath}: not valid JSON (${(err as Error).message})`);
    }
    const config = parseT5Config(json, configPath);
    if (tokenizer.vocabSize > config.vocabSize)
      throw new Error(
        `${tokDir} has ${tokenizer.vocabSize} tokens but ${configPath} says vocab_size ${config.vocabSize}: the folders are from different models`,
      );
    const { weights, variant } = openT5Weights(encDir, opts.variant);
    const t0 = performance.now();
    const data = externalDataRoot(weights.files.map((f) => join(weights.dir, f)));
    const bytes = buildT5EncoderGraph(config, weights, { length: tokenizer.length, locate: data.location });
    const t1 = performance.now();
    const { variant: _v, textEncoderDir: _e, tokenizerDir: _t, length: _l, ...session } = opts;
    // fp32 weights stay mapped from the shards unless the caller wants repacked (faster, copied) ones;
    // fp16 ones are widened into new float32 buffers at load either way.
    const prepack = session.prepack ?? variant === 'fp16';
    const s = await OnnxSession.load(`t5-encoder (${variant})`, bytes, {
      ...session,
      prepack,
      externalDataDir: data.dir,
    });
    const t2 = performance.now();
    return new T5TextEncoder(tokenizer, config, variant, s, { buildMs: t1 - t0, sessionMs: t2 - t1 });
  }

  /** Token ids [B, length] and mask of prompts; `preprocess` (default) applies IF's lower-case + strip. */
  tokenize(prompts: readonly string[], preprocess = true): { ids: BigInt64Array; attentionMask: BigInt64Array } {
    return this.tokenizer.encodeBatch(preprocess ? prompts.map(ifPreprocess) : prompts);
  }

  /** last_hidden_state of pre-tokenised rows, [B, length, d_model] row-major. */
  async encodeIds(ids: BigInt64Array, attentionMask: BigInt64Array): Promise<Float32Array> {
    const L = this.length;
    if (ids.length % L !== 0 || attentionMask.length !== ids.length) {
      throw new RangeError(`ids (${ids.length}) and mask (${attentionMask.length}) must both be [batch, ${L}]`);
    }
    const B = ids.length / L;
    const out = await this.session.run({
      input_ids: { type: 'int64', dims: [B, L], data: ids },
      attention_mask: { type: 'int64', dims: [B, L], data: attentionMask },
    });
    return toFloat32(out.last_hidden_state!.data);
  }

  /** Prompt embeddings as IF's encode_prompt makes them: [B, 77, d_model], every row (padding included). */
  async encode(prompts: readonly string[], opts: { preprocess?: boolean } = {}): Promise<Float32Array> {
    if (prompts.length === 0) throw new RangeError('encode needs at least one prompt');
    const { ids, attentionMask } = this.tokenize(prompts, opts.preprocess ?? true);
    return this.encodeIds(ids, attentionMask);
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}
