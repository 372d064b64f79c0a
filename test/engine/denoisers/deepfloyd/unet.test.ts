// The IF UNet built from Hugging Face config.json + safetensors, checked number for number against what
// diffusers 0.25.1 computed from the same tiny random-weight models (../shared/if-golden, README 3.5, 3.6),
// the IF-I-M-like configuration's structure (372M parameters, built without weights) and the refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { readSafetensorsHeader, readTensor } from '../../../../src/engine/denoisers/deepfloyd/hf-safetensors.js';
import { IfUnet } from '../../../../src/engine/denoisers/deepfloyd/unet.js';
import { parseUnetConfig, UnetConfigError } from '../../../../src/engine/denoisers/deepfloyd/unet-config.js';
import {
  SafetensorsWeights,
  StructureOnlyWeights,
  UnetWeightsError,
  buildUnetGraph,
} from '../../../../src/engine/denoisers/deepfloyd/unet-graph.js';
import { float16ToFloat32, float32ToFloat16 } from '../../../../src/engine/runtime/half.js';
import { tensor, type Shape } from '../../../../src/engine/tensor.js';

/** Beside the clone (CI checks it out next to the repository); a missing folder fails the suite. */
const GOLDEN = fileURLToPath(new URL('../../../../../../shared/if-golden/', import.meta.url));
assert.ok(
  existsSync(`${GOLDEN}README.md`),
  `IF golden fixtures missing: expected ${GOLDEN} (the if-golden folder beside the repository)`,
);
const UNET1 = `${GOLDEN}models/IF-I-tiny/unet`;
const UNET2 = `${GOLDEN}models/IF-II-tiny/unet`;
const quiet = { log: () => {} };

function golden(file: string): (name: string) => { shape: number[]; data: Float32Array } {
  const path = `${GOLDEN}golden/${file}`;
  const header = readSafetensorsHeader(path);
  return (name) => {
    const e = header.tensors.get(name);
    assert.ok(e, `${file} lacks ${name}`);
    return { shape: e.shape, data: readTensor(e) };
  };
}

const asSample = (t: { shape: number[]; data: Float32Array }) => tensor(t.shape as unknown as Shape, t.data);
const roundHalf = (a: Float32Array): Float32Array => float16ToFloat32(float32ToFloat16(a));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const g1 = golden('unet1-calls.safetensors');
const g2 = golden('unet2-calls.safetensors');

test('stage I (fp32 weights) matches diffusers at t = 999, 500, 1 within 1e-4', async (t) => {
  const unet = await IfUnet.load(UNET1, quiet);
  try {
    assert.equal(unet.info.parameters, 854_310);
    const sample = asSample(g1('sample'));
    const ehs = g1('encoder_hidden_states').data;
    for (const ts of [999, 500, 1]) {
      const timestep = g1(`timestep_${ts}`).data[0]!;
      assert.equal(timestep, ts);
      const d = maxAbsDiff(await unet.predict(sample, timestep, ehs), g1(`out_t${ts}`).data);
      t.diagnostic(`t=${ts}: max abs diff ${d.toExponential(2)}`);
      assert.ok(d <= 1e-4, `t=${ts}: max abs diff ${d}`);
    }
  } finally {
    await unet.dispose();
  }
});

test('stage I: one timestep per row embeds each row with its own t (rows match the single-t calls)', async () => {
  const unet = await IfUnet.load(UNET1, quiet);
  try {
    const out = await unet.predict(asSample(g1('sample')), [999, 1], g1('encoder_hidden_states').data);
    const half = out.length / 2;
    assert.ok(maxAbsDiff(out.subarray(0, half), g1('out_t999').data.subarray(0, half)) <= 1e-4);
    assert.ok(maxAbsDiff(out.subarray(half), g1('out_t1').data.subarray(half)) <= 1e-4);
    await assert.rejects(
      unet.predict(asSample(g1('sample')), [1, 2, 3], g1('encoder_hidden_states').data),
      /timesteps has 3 values for a batch of 2/,
    );
    await assert.rejects(
      unet.predict(asSample(g1('sample')), 1, g1('encoder_hidden_states').data, 250),
      /no class embedding \(stage I\)/,
    );
  } finally {
    await unet.dispose();
  }
});

test('stage I (fp16 variant, fp32 compute) matches diffusers fp16 weights with fp32 arithmetic', async (t) => {
  const unet = await IfUnet.load(UNET1, { ...quiet, variant: 'fp16' });
  try {
    assert.match(unet.info.weightsFile, /diffusion_pytorch_model\.fp16\.safetensors$/);
    // The reference rounded its inputs to fp16 too (README 3.5).
    const sample = tensor(g1('sample').shape as unknown as Shape, roundHalf(g1('sample').data));
    const ehs = roundHalf(g1('encoder_hidden_states').data);
    for (const ts of [999, 500, 1]) {
      const out = await unet.predict(sample, ts, ehs);
      const d = maxAbsDiff(out, g1(`out_fp16w_fp32compute_t${ts}`).data);
      const rounded = maxAbsDiff(out, g1(`out_fp16_t${ts}`).data);
      const vsFp32 = maxAbsDiff(out, g1(`out_t${ts}`).data);
      t.diagnostic(
        `t=${ts}: ${d.toExponential(2)} vs fp16-weight/fp32-math, ${rounded.toExponential(2)} vs its fp16 rounding, ${vsFp32.toExponential(2)} vs fp32 weights`,
      );
      assert.ok(d <= 1e-4, `t=${ts}: ${d}`);
      assert.ok(rounded <= 1e-3, `t=${ts}: ${rounded}`);
      assert.ok(vsFp32 > 1e-4, 'the fp16 file was really used (its rounding shows)');
    }
  } finally {
    await unet.dispose();
  }
});

test('stage II (fp32 weights, noise level as class_labels) matches diffusers on calls a–d within 1e-4', async (t) => {
  const unet = await IfUnet.load(UNET2, quiet);
  try {
    assert.equal(unet.info.parameters, 981_030);
    assert.equal(unet.needsClassLabels, true);
    const ehs = g2('encoder_hidden_states').data;
    for (const k of ['a', 'b', 'c', 'd']) {
      const out = await unet.predict(asSample(g2(`${k}.sample`)), g2(`${k}.timestep`).data[0]!, ehs, [
        ...g2(`${k}.class_labels`).data,
      ]);
      const d = maxAbsDiff(out, g2(`${k}.out`).data);
      t.diagnostic(`call ${k}: max abs diff ${d.toExponential(2)}`);
      assert.ok(d <= 1e-4, `call ${k}: ${d}`);
    }
    await assert.rejects(unet.predict(asSample(g2('a.sample')), 999, ehs), /needs classLabels/);
  } finally {
    await unet.dispose();
  }
});

test('stage II (fp16 variant) matches diffusers fp16 outputs within their fp16 rounding', async (t) => {
  const unet = await IfUnet.load(UNET2, { ...quiet, variant: 'fp16' });
  try {
    const ehs = roundHalf(g2('encoder_hidden_states').data);
    for (const k of ['a', 'b', 'c', 'd']) {
      const s = g2(`${k}.sample`);
      const out = await unet.predict(
        tensor(s.shape as unknown as Shape, roundHalf(s.data)),
        g2(`${k}.timestep`).data[0]!,
        ehs,
        [...g2(`${k}.class_labels`).data],
      );
      // out_fp16 is rounded to fp16 (half an ulp is 4.9e-4 below 2): that rounding bounds the agreement.
      const d = maxAbsDiff(out, g2(`${k}.out_fp16`).data);
      t.diagnostic(`call ${k}: max abs diff ${d.toExponential(2)} vs out_fp16`);
      assert.ok(d <= 6e-4, `call ${k}: ${d}`);
    }
  } finally {
    await unet.dispose();
  }
});

test('the model keeps its weights in the safetensors file: every initializer of the graph is external', () => {
  const path = `${UNET1}/diffusion_pytorch_model.safetensors`;
  const cfg = parseUnetConfig(JSON.parse(readFileSync(`${UNET1}/config.json`, 'utf8')));
  const weights = new SafetensorsWeights(readSafetensorsHeader(path), 'diffusion_pytorch_model.safetensors');
  const graph = buildUnetGraph(cfg, weights);
  weights.checkAllUsed();
  const model = onnxProto.onnx.ModelProto.decode(graph.bytes);
  const external = model.graph!.initializer!.filter(
    (i) => i.dataLocation === onnxProto.onnx.TensorProto.DataLocation.EXTERNAL,
  );
  assert.equal(external.length, 199);
  const first = external.find((i) => i.name === 'conv_in.weight')!;
  const kv = Object.fromEntries(first.externalData!.map((e) => [e.key, e.value]));
  const entry = readSafetensorsHeader(path).tensors.get('conv_in.weight')!;
  assert.deepEqual(kv, {
    location: 'diffusion_pytorch_model.safetensors',
    offset: String(entry.offset),
    length: String(32 * 3 * 3 * 3 * 4),
  });
  assert.ok(
    graph.bytes.byteLength < statSync(path).size / 10,
    `graph is ${graph.bytes.byteLength} bytes, weights ${statSync(path).size}`,
  );
});

test('IF-I-M-like config (IF-I-XL at smaller width) builds: 371,605,830 parameters, no weights needed', (t) => {
  const started = performance.now();
  const cfg = parseUnetConfig(JSON.parse(readFileSync(`${GOLDEN}configs/IF-I-M-like-unet-config.json`, 'utf8')));
  const graph = buildUnetGraph(cfg, new StructureOnlyWeights());
  t.diagnostic(
    `built in ${(performance.now() - started).toFixed(0)} ms, ${graph.parameterTensors} tensors, graph ${graph.bytes.byteLength} bytes`,
  );
  assert.equal(graph.parameters, 371_605_830);
  assert.deepEqual(graph.inputs, ['sample', 'timestep', 'encoder_hidden_states']);
  const model = onnxProto.onnx.ModelProto.decode(graph.bytes);
  assert.equal(
    model.graph!.initializer!.filter((i) => i.dataLocation === onnxProto.onnx.TensorProto.DataLocation.EXTERNAL).length,
    graph.parameterTensors,
  );
  // The text states are T5-XXL's 4096 wide, projected to cross_attention_dim 768 inside.
  const ehs = model.graph!.input!.find((i) => i.name === 'encoder_hidden_states')!;
  assert.equal(Number(ehs.type!.tensorType!.shape!.dim![2]!.dimValue), 4096);
});

test('config values the graph does not reproduce are refused, naming the key, the value and what is allowed', () => {
  const base = JSON.parse(readFileSync(`${UNET1}/config.json`, 'utf8')) as Record<string, unknown>;
  const bad = (patch: Record<string, unknown>, message: RegExp): void => {
    assert.throws(
      () => parseUnetConfig({ ...base, ...patch }),
      (err: Error) => err instanceof UnetConfigError && message.test(err.message),
    );
  };
  bad(
    { down_block_types: ['ResnetDownsampleBlock2D', 'CrossAttnDownBlock2D'] },
    /down_block_types = .*CrossAttnDownBlock2D.* supported: "ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"/,
  );
  bad(
    { mid_block_type: 'UNetMidBlock2DCrossAttn' },
    /mid_block_type = "UNetMidBlock2DCrossAttn" is not supported; supported: "UNetMidBlock2DSimpleCrossAttn"/,
  );
  bad({ class_embed_type: 'projection' }, /class_embed_type = "projection" .*supported: null, "timestep"/);
  bad({ act_fn: 'mish' }, /act_fn = "mish" .*"gelu", "silu"/);
  bad({ resnet_time_scale_shift: 'ada_group' }, /resnet_time_scale_shift = "ada_group" .*"default", "scale_shift"/);
  bad({ addition_embed_type: 'text_time' }, /addition_embed_type = "text_time"/);
  bad({ class_embeddings_concat: true }, /class_embeddings_concat = true .*false/);
  bad({ layers_per_block: [1, 2, 3] }, /layers_per_block = \[1,2,3\] .*a list of 2/);
  bad({ time_embedding_type: 'fourier' }, /time_embedding_type = "fourier" .*"positional"/);
  bad({ cross_attention_norm: 'batch_norm' }, /cross_attention_norm = "batch_norm"/);
  bad({ num_attention_heads: 8 }, /num_attention_heads = 8 .*null/);
  bad({ some_future_key: 3 }, /some_future_key = 3 .*unknown/);
});

test('weights that do not fit the config are refused: a missing tensor, a wrong shape, tensors left over', () => {
  const cfg1 = parseUnetConfig(JSON.parse(readFileSync(`${UNET1}/config.json`, 'utf8')));
  const cfg2 = parseUnetConfig(JSON.parse(readFileSync(`${UNET2}/config.json`, 'utf8')));
  const w1 = () =>
    new SafetensorsWeights(
      readSafetensorsHeader(`${UNET1}/diffusion_pytorch_model.safetensors`),
      'diffusion_pytorch_model.safetensors',
    );
  const w2 = () =>
    new SafetensorsWeights(
      readSafetensorsHeader(`${UNET2}/diffusion_pytorch_model.safetensors`),
      'diffusion_pytorch_model.safetensors',
    );
  // Stage II's config on stage I's weights: its time embedding is 32 wide, stage I's 128.
  assert.throws(
    () => buildUnetGraph(cfg2, w1()),
    (e: Error) =>
      e instanceof UnetWeightsError &&
      /"time_embedding.linear_1.weight" is \[128, 32\], unet\/config.json implies \[32, 32\]/.test(e.message),
  );
  assert.throws(
    () => buildUnetGraph({ ...cfg1, classEmbedTimestep: true }, w1()),
    (e: Error) => e instanceof UnetWeightsError && /lacks tensor "class_embedding.linear_1.weight"/.test(e.message),
  );
  assert.throws(
    () => buildUnetGraph({ ...cfg1, inChannels: 6 }, w1()),
    (e: Error) =>
      e instanceof UnetWeightsError &&
      /"conv_in.weight" is \[32, 3, 3, 3\], unet\/config.json implies \[32, 6, 3, 3\]/.test(e.message),
  );
  const extra = w2();
  buildUnetGraph({ ...cfg2, classEmbedTimestep: false }, extra);
  assert.throws(
    () => extra.checkAllUsed(),
    (e: Error) =>
      e instanceof UnetWeightsError &&
      /holds 4 tensors that unet\/config.json does not use: class_embedding/.test(e.message),
  );
});

test('safetensors reader: F16 widened exactly, I64 as numbers, offsets absolute', () => {
  const p32 = `${UNET1}/diffusion_pytorch_model.safetensors`;
  const p16 = `${UNET1}/diffusion_pytorch_model.fp16.safetensors`;
  const h32 = readSafetensorsHeader(p32);
  const h16 = readSafetensorsHeader(p16);
  assert.equal(h16.tensors.get('conv_in.weight')!.dtype, 'F16');
  const w32 = readTensor(h32.tensors.get('conv_in.weight')!);
  const w16 = readTensor(h16.tensors.get('conv_in.weight')!);
  assert.deepEqual(w16, roundHalf(w32));
  assert.ok(h32.tensors.get('conv_in.weight')!.offset > 8, 'offsets count from the start of the file');
  assert.deepEqual([...g2('d.class_labels').data], [250, 50]);
});
