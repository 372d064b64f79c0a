// `illusionist deepfloyd check` as an operator runs it (a child process of dist/src/cli/bin.js) on folders
// laid out like the Hugging Face repos (the tiny if-golden models), whole and with pieces removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tinyDeepFloydModels } from '../fixtures/tiny-deepfloyd.js';

const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

function check(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const clean = { ...process.env };
  for (const k of ['DEEPFLOYD_STAGE1_DIR', 'DEEPFLOYD_STAGE2_DIR', 'DEEPFLOYD_VARIANT']) delete clean[k];
  const r = spawnSync(process.execPath, [bin, 'deepfloyd', 'check', ...args], {
    encoding: 'utf8',
    env: { ...clean, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const line = (out: string, name: string): string =>
  out.split('\n').find((l) => new RegExp(`^  (ok     |MISSING) ${name} `).test(l)) ?? '';

test('a complete download under ILLUSIONIST_MODELS: every component with its facts, variant, parameters and bytes; exit 0', () => {
  const l = tinyDeepFloydModels();
  try {
    const r = check([], { ILLUSIONIST_MODELS: l.models });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^stage I: ${l.stageI} \\(as DeepFloyd/IF-I-XL-v1\\.0\\)$`, 'm'));
    assert.match(line(r.out, 'model_index.json'), /^ {2}ok {6}model_index\.json +IFPipeline$/);
    assert.match(
      line(r.out, 'unet'),
      /ok .*unet +fp32, 854,310 parameters, 0\.0034 GB; in 3 → out 6 channels, block_out_channels \[32,64\]/,
    );
    assert.match(
      line(r.out, 'text_encoder'),
      /ok .*text_encoder +fp32, 25,088 parameters, 0\.0001 GB; d_model 32, 2 layers, 4 heads, gated-gelu, 2 shards/,
    );
    assert.match(line(r.out, 'tokenizer'), /ok .*tokenizer +spiece\.model \d+ bytes/);
    assert.match(
      r.out,
      /ok .*scheduler +squaredcos_cap_v2, 1000 steps, variance learned_range, thresholding 0\.95 \/ max 1\.5/,
    );
    assert.match(r.out, /weights on disk: 0\.0035 GB; memory once loaded on CPU: about 0\.0035 GB/);
    assert.match(r.out, new RegExp(`^stage II: ${l.stageII} \\(as DeepFloyd/IF-II-L-v1\\.0\\)$`, 'm'));
    assert.match(r.out, /ok .*unet +fp32, 981,030 parameters, .*class_embed_type timestep/);
    assert.match(r.out, /ok .*image_noising_scheduler +squaredcos_cap_v2, 1000 steps/);
    assert.doesNotMatch(r.out, /MISSING/);
    assert.match(r.out, /stage I can run\.\n$/);
    assert.equal(r.err, '');
  } finally {
    rmSync(l.models, { recursive: true });
  }
});

test('only the fp16 files: the fp16 variant is what would load, at half the bytes', () => {
  const l = tinyDeepFloydModels({ fp16Only: true });
  try {
    const r = check(['--dir', join(l.models, 'deepfloyd-if')]);
    assert.equal(r.code, 0, r.err);
    assert.match(line(r.out, 'unet'), /fp16, 854,310 parameters, 0\.0017 GB/);
    assert.match(line(r.out, 'text_encoder'), /fp16, 25,088 parameters/);
    const fp32 = check(['--dir', l.stageI, '--variant', 'fp32']);
    assert.equal(fp32.code, 2);
    assert.match(line(fp32.out, 'unet'), /MISSING unet +no diffusion_pytorch_model\.safetensors/);
    assert.match(
      fp32.out,
      /get it with: huggingface-cli download DeepFloyd\/IF-I-XL-v1\.0 --include "unet\/config\.json" "unet\/diffusion_pytorch_model\.safetensors" --local-dir /,
    );
  } finally {
    rmSync(l.models, { recursive: true });
  }
});

test('pieces missing: each is named with its download command; exit 2 when stage I cannot run', () => {
  const l = tinyDeepFloydModels({
    withoutI: ['text_encoder', 'tokenizer/spiece.model'],
    withoutII: ['unet/diffusion_pytorch_model.safetensors', 'unet/diffusion_pytorch_model.fp16.safetensors'],
  });
  try {
    const r = check(['--dir', l.stageI]);
    assert.equal(r.code, 2, r.out);
    assert.match(
      r.out,
      new RegExp(
        `MISSING text_encoder +config\\.json missing\\n +get it with: huggingface-cli download DeepFloyd/IF-I-XL-v1\\.0 --include "text_encoder/config\\.json" "text_encoder/model\\.safetensors\\.index\\.fp16\\.json" "text_encoder/model\\.fp16\\*\\.safetensors" --local-dir ${l.stageI}\\n`,
      ),
    );
    assert.match(
      r.out,
      new RegExp(
        `MISSING tokenizer +spiece\\.model missing\\n +get it with: huggingface-cli download DeepFloyd/IF-I-XL-v1\\.0 --include "tokenizer/\\*" --local-dir ${l.stageI}\\n`,
      ),
    );
    assert.match(line(r.out, 'unet'), /^ {2}ok /, 'stage I UNet is there');
    // Stage II found beside stage I; its UNet weights are missing.
    assert.match(
      r.out,
      new RegExp(
        `MISSING unet +no diffusion_pytorch_model\\(\\.fp16\\)\\.safetensors\\n +get it with: huggingface-cli download DeepFloyd/IF-II-L-v1\\.0 --include "unet/config\\.json" "unet/diffusion_pytorch_model\\.fp16\\.safetensors" --local-dir ${l.stageII}\\n`,
      ),
    );
    assert.doesNotMatch(r.out, /stage I can run/);
    assert.equal(r.err.trim().split('\n').length, 1);
    assert.match(
      r.err,
      /^error: DeepFloyd IF stage I cannot run from .*IF-I-XL-v1\.0: download what the report above lists as MISSING/,
    );
  } finally {
    rmSync(l.models, { recursive: true });
  }
});

test('nothing downloaded: the commands for stage I (XL, or L / M) and stage II; a bad --variant is refused', () => {
  const empty = mkdtempSync(join(tmpdir(), 'if-empty-'));
  try {
    const r = check([], { ILLUSIONIST_MODELS: empty });
    assert.equal(r.code, 2);
    const parent = join(empty, 'deepfloyd-if');
    assert.match(r.out, new RegExp(`stage I: no IF-I folder in ${parent}`));
    assert.ok(
      r.out.includes(
        `huggingface-cli download DeepFloyd/IF-I-XL-v1.0 --include "model_index.json" "scheduler/*" "tokenizer/*" "unet/config.json" "unet/diffusion_pytorch_model.fp16.safetensors" "text_encoder/config.json" "text_encoder/model.safetensors.index.fp16.json" "text_encoder/model.fp16*.safetensors" --local-dir ${parent}/IF-I-XL-v1.0`,
      ),
      r.out,
    );
    assert.match(r.out, /smaller: IF-I-L-v1\.0 or IF-I-M-v1\.0/);
    assert.ok(
      r.out.includes(
        `huggingface-cli download DeepFloyd/IF-II-L-v1.0 --include "model_index.json" "scheduler/*" "image_noising_scheduler/*" "unet/config.json" "unet/diffusion_pytorch_model.fp16.safetensors" --local-dir ${parent}/IF-II-L-v1.0`,
      ),
      r.out,
    );
    const bad = check(['--variant', 'int8'], { ILLUSIONIST_MODELS: empty });
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^error: --variant is "int8"; allowed: auto, fp32, fp16\n$/);
    const env = check([], { ILLUSIONIST_MODELS: empty, DEEPFLOYD_VARIANT: 'half' });
    assert.match(env.err, /DEEPFLOYD_VARIANT is "half"; allowed: auto, fp32, fp16/);
  } finally {
    rmSync(empty, { recursive: true });
  }
});

test('DEEPFLOYD_STAGE1_DIR / DEEPFLOYD_STAGE2_DIR point at folders anywhere', () => {
  const l = tinyDeepFloydModels();
  const empty = mkdtempSync(join(tmpdir(), 'if-empty-'));
  try {
    const r = check([], { ILLUSIONIST_MODELS: empty, DEEPFLOYD_STAGE1_DIR: l.stageI, DEEPFLOYD_STAGE2_DIR: l.stageII });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^stage I: ${l.stageI} `, 'm'));
    assert.match(r.out, new RegExp(`^stage II: ${l.stageII} `, 'm'));
  } finally {
    rmSync(l.models, { recursive: true });
    rmSync(empty, { recursive: true });
  }
});
