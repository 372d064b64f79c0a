// The T5 encoder graph built from a Hugging Face text_encoder/ folder (config.json + sharded safetensors)
// against transformers' T5EncoderModel outputs in ../shared/if-golden/golden/t5.safetensors (README 3.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import { SafetensorsError, SafetensorsFolder } from '../../../../src/engine/denoisers/deepfloyd/hf-safetensors.js';
import {
  T5TextEncoder,
  buildT5EncoderGraph,
  parseT5Config,
  relativePositionBucket,
} from '../../../../src/engine/denoisers/deepfloyd/t5-encoder.js';
import { MissingModelError } from '../../../../src/engine/runtime/onnx.js';
import { makeTempDir } from '../../../helpers/temp-dir.js';

/** ../shared/if-golden beside the clone (from dist/test/engine/denoisers/deepfloyd/). */
function golden(): string {
  const dir = fileURLToPath(new URL('../../../../../../shared/if-golden', import.meta.url));
  if (!existsSync(join(dir, 'golden', 't5.safetensors')))
    assert.fail(`the DeepFloyd IF goldens are missing: expected ${dir} (../shared/if-golden from the repository root)`);
  return dir;
}

const quiet = { log: () => {} };
const model = (): string => join(golden(), 'models', 'IF-I-tiny');
const goldens = (): SafetensorsFolder => SafetensorsFolder.file(join(golden(), 'golden', 't5.safetensors'));
const keysOf = (g: SafetensorsFolder): string[] =>
  g.names.filter((n) => n.endsWith('.prompt_embeds')).map((n) => n.slice(0, -'.prompt_embeds'.length));

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Worst difference over every golden key: prompt_embeds from the preprocessed ids, raw states where given. */
async function worstOverGoldens(enc: T5TextEncoder): Promise<{ worst: number; compared: number }> {
  const g = goldens();
  let worst = 0;
  let compared = 0;
  for (const k of keysOf(g)) {
    for (const [side, ref] of [
      ['preprocessed', `${k}.prompt_embeds`],
      ['raw', `${k}.raw.last_hidden_state`],
    ] as const) {
      if (!g.has(ref)) continue;
      const out = await enc.encodeIds(
        g.readInt64(`${k}.${side}.input_ids`),
        g.readInt64(`${k}.${side}.attention_mask`),
      );
      worst = Math.max(worst, maxAbsDiff(out, g.readFloat32(ref)));
      compared++;
    }
  }
  return { worst, compared };
}

test('fp32 weights: every golden prompt_embeds and raw last_hidden_state within 2e-5', async () => {
  const enc = await T5TextEncoder.load(model(), { variant: 'fp32', ...quiet });
  try {
    assert.equal(enc.variant, 'fp32');
    const { worst, compared } = await worstOverGoldens(enc);
    assert.equal(compared, 16 + 3, '16 prompt_embeds and the 3 raw states that differ from them');
    assert.ok(worst <= 2e-5, `max abs diff ${worst}`);
  } finally {
    await enc.dispose();
  }
});

test('prompts straight to embeddings: preprocessing, tokenizer and encoder in one batch match encode_prompt (repacked weights)', async () => {
  const enc = await T5TextEncoder.load(model(), { prepack: true, ...quiet });
  try {
    const tokens = JSON.parse(readFileSync(join(golden(), 'golden', 'tokens.json'), 'utf8')) as {
      prompts: Array<{ key: string; prompt: string }>;
    };
    const g = goldens();
    const prompts = tokens.prompts.map((p) => p.prompt);
    const out = await enc.encode(prompts);
    const row = 77 * enc.dModel;
    assert.equal(out.length, prompts.length * row);
    tokens.prompts.forEach((p, b) => {
      const d = maxAbsDiff(out.subarray(b * row, (b + 1) * row), g.readFloat32(`${p.key}.prompt_embeds`));
      assert.ok(d <= 2e-5, `${p.key}: max abs diff ${d}`);
    });
    const negative = await enc.encode(['']);
    assert.ok(
      maxAbsDiff(negative, g.readFloat32('negative_prompt_embeds')) <= 2e-5,
      'the negative prompt "" is the unconditional row',
    );
  } finally {
    await enc.dispose();
  }
});

test('fp16 variant weights (widened to float32 in the graph) stay within 1e-2 of the fp32 goldens, and differ from them', async () => {
  const enc = await T5TextEncoder.load(model(), { variant: 'fp16', ...quiet });
  try {
    assert.equal(enc.variant, 'fp16');
    const { worst } = await worstOverGoldens(enc);
    assert.ok(worst <= 1e-2, `max abs diff ${worst}`);
    assert.ok(worst > 1e-5, `fp16-rounded weights must change the result (max abs diff ${worst})`);
  } finally {
    await enc.dispose();
  }
});

test('every weight stays in the safetensors shards: the graph holds external references, not copies', () => {
  const dir = join(model(), 'text_encoder');
  const config = parseT5Config(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>);
  for (const variant of [undefined, 'fp16']) {
    const weights = SafetensorsFolder.open(dir, 'model', variant)!;
    assert.equal(weights.files.length, 2, 'two shards');
    const m = onnxProto.onnx.ModelProto.decode(buildT5EncoderGraph(config, weights));
    const external = m.graph!.initializer!.filter(
      (t) => t.dataLocation === onnxProto.onnx.TensorProto.DataLocation.EXTERNAL,
    );
    // 2 blocks × (q, k, v, o, 2 norms, wi_0, wi_1, wo) + embedding + relative bias table + final norm.
    assert.equal(external.length, 2 * 9 + 3);
    for (const t of external) {
      assert.equal(t.rawData?.length ?? 0, 0, `${t.name} carries no bytes`);
      const ext = Object.fromEntries(t.externalData!.map((e) => [e.key, e.value]));
      const info = weights.info(t.name === 'shared.weight' ? 'shared.weight' : t.name!);
      assert.deepEqual(ext, { location: info.file, offset: String(info.offset), length: String(info.byteLength) });
    }
    assert.ok(
      external.some((t) => t.name === 'shared.weight'),
      'encoder.embed_tokens.weight is read from shared.weight',
    );
  }
});

test('relative position buckets: the float32 edges agree with the exact formula at T5-XXL’s 32 buckets / 128', () => {
  const exact = (rel: number): number => {
    const half = 16;
    const n = Math.abs(rel);
    const base = rel > 0 ? half : 0;
    if (n < 8) return base + n;
    return base + Math.min(8 + Math.floor((Math.log(n / 8) / Math.log(128 / 8)) * 8), half - 1);
  };
  for (let d = -76; d <= 76; d++) assert.equal(relativePositionBucket(d, 32, 128), exact(d), `distance ${d}`);
});

test('a missing or partial text_encoder folder names what to download; a wrong config names the tensor', async (t) => {
  const dir = makeTempDir(t, 'illusionist-t5-');
  const src = model();
  mkdirSync(join(dir, 'tokenizer'));
  for (const f of ['spiece.model', 'tokenizer_config.json', 'special_tokens_map.json'])
    copyFileSync(join(src, 'tokenizer', f), join(dir, 'tokenizer', f));
  await assert.rejects(
    T5TextEncoder.load(dir, quiet),
    (e: unknown) =>
      e instanceof MissingModelError &&
      e.message.includes(join(dir, 'text_encoder', 'config.json')) &&
      e.message.includes('huggingface-cli download DeepFloyd/IF-I-XL-v1.0 --include "text_encoder/*" "tokenizer/*"'),
  );
  mkdirSync(join(dir, 'text_encoder'));
  copyFileSync(join(src, 'text_encoder', 'config.json'), join(dir, 'text_encoder', 'config.json'));
  await assert.rejects(
    T5TextEncoder.load(dir, quiet),
    (e: unknown) =>
      e instanceof MissingModelError &&
      /none of model\.safetensors\.index\.json, model\.safetensors, model\.safetensors\.index\.fp16\.json, model\.fp16\.safetensors/.test(
        e.message,
      ),
  );
  copyFileSync(
    join(src, 'text_encoder', 'model.safetensors.index.json'),
    join(dir, 'text_encoder', 'model.safetensors.index.json'),
  );
  copyFileSync(
    join(src, 'text_encoder', 'model-00001-of-00002.safetensors'),
    join(dir, 'text_encoder', 'model-00001-of-00002.safetensors'),
  );
  await assert.rejects(
    T5TextEncoder.load(dir, quiet),
    (e: unknown) =>
      e instanceof SafetensorsError && /lists model-00002-of-00002\.safetensors, which is missing/.test(e.message),
  );
  copyFileSync(
    join(src, 'text_encoder', 'model-00002-of-00002.safetensors'),
    join(dir, 'text_encoder', 'model-00002-of-00002.safetensors'),
  );
  const config = JSON.parse(readFileSync(join(src, 'text_encoder', 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'text_encoder', 'config.json'), JSON.stringify({ ...config, d_ff: 40 }));
  await assert.rejects(
    T5TextEncoder.load(dir, quiet),
    /tensor 'encoder\.block\.0\.layer\.1\.DenseReluDense\.wi_0\.weight' is \[37, 32\] but config\.json implies \[40, 32\]/,
  );
  writeFileSync(join(dir, 'text_encoder', 'config.json'), JSON.stringify({ ...config, dense_act_fn: 'quick_gelu' }));
  await assert.rejects(
    T5TextEncoder.load(dir, quiet),
    /activation "quick_gelu" is not supported; allowed: gelu_new, gelu, relu, silu, swish/,
  );
  writeFileSync(join(dir, 'text_encoder', 'config.json'), JSON.stringify(config));
  const enc = await T5TextEncoder.load(dir, quiet);
  assert.equal(enc.variant, 'fp32', 'the copied folder loads once complete');
  await enc.dispose();
});
