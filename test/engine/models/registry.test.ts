// The model registry: each entry's facts match the denoiser it loads, prompts are checked per model,
// and the options' per-model defaults come from the entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import {
  checkpointModel,
  MODELS,
  modelEntry,
  parseModelId,
  preferredModel,
} from '../../../src/engine/models/registry.js';
import { describeDefault } from '../../../src/techniques/options.js';
import { guidanceOption } from '../../../src/techniques/common.js';
import { rmSync } from 'node:fs';
import { tinyDeepFloydModels } from '../../fixtures/tiny-deepfloyd.js';
import { tinyClassCheckpoint } from '../../helpers/tiny-mnist.js';

test('each entry loads a denoiser of its id and shape, from where locate() points', async () => {
  const tiny = tinyDeepFloydModels({ stageII: false });
  const dirs = { 'deepfloyd-if': tiny.stageI };
  const checkpoint = await tinyClassCheckpoint();
  for (const entry of MODELS) {
    const opts = entry.supports.checkpoints ? { checkpoint } : { dir: dirs[entry.id as 'deepfloyd-if'] };
    assert.ok(entry.installed(opts), `${entry.id} installed`);
    const source = entry.locate(opts);
    const loaded = await entry.load(opts);
    try {
      assert.equal(loaded.id, entry.id);
      assert.equal(loaded.entry, entry);
      assert.equal(loaded.denoiser.id, entry.id);
      assert.deepEqual(loaded.denoiser.imageShape, [...entry.shape]);
      assert.equal(loaded.source, source);
    } finally {
      await loaded.dispose();
    }
  }
  rmSync(tiny.models, { recursive: true });
});

test('a missing model says how to get it; prompts are checked per model', () => {
  const ifModel = modelEntry('deepfloyd-if');
  assert.equal(ifModel.installed({ dir: join('/nonexistent', 'deepfloyd-if') }), false);
  assert.throws(
    () => ifModel.locate({ dir: '/nonexistent/IF-I-XL-v1.0' }),
    /DeepFloyd IF stage I in \/nonexistent\/IF-I-XL-v1\.0 cannot run: model_index\.json: missing \(get it with: huggingface-cli download DeepFloyd\/IF-I-XL-v1\.0 --include "model_index\.json" --local-dir \/nonexistent\/IF-I-XL-v1\.0\); unet: config\.json missing/,
  );
  const partial = tinyDeepFloydModels({ stageII: false, withoutI: ['text_encoder'] });
  assert.equal(ifModel.installed({ dir: partial.stageI }), false);
  assert.throws(
    () => ifModel.locate({ dir: partial.stageI }),
    (e: unknown) =>
      e instanceof InputError &&
      /text_encoder: config\.json missing \(get it with: huggingface-cli download DeepFloyd\/IF-I-XL-v1\.0 --include "text_encoder\/config\.json" "text_encoder\/model\.safetensors\.index\.fp16\.json" "text_encoder\/model\.fp16\*\.safetensors"/.test(
        e.message,
      ) &&
      !/unet:/.test(e.message),
  );
  rmSync(partial.models, { recursive: true });
  assert.throws(() => ifModel.locate({ checkpoint: 'x' }), /--checkpoint is for --model mnist-flow/);
  const digits = checkpointModel();
  assert.equal(digits.id, 'mnist-flow');
  digits.checkPrompt('seven', 'prompt');
  digits.checkPrompt('', 'prompt');
  assert.throws(
    () => digits.checkPrompt('a cat', 'prompt2'),
    (e: unknown) =>
      e instanceof InputError &&
      /prompt2 "a cat" is not a digit/.test(e.message) &&
      /deepfloyd-if/.test(e.allowed ?? ''),
  );
  ifModel.checkPrompt('a cat', 'prompt');
  assert.throws(() => ifModel.checkPrompt('x'.repeat(501), 'prompt'), /501 characters; the limit is 500/);
  assert.throws(
    () => parseModelId('sdxl'),
    (e: unknown) => e instanceof InputError && e.allowed === 'models: deepfloyd-if, mnist-flow',
  );
});

test('defaults per model come from the entries; the preferred model is the first installed', () => {
  assert.deepEqual(
    MODELS.map((m) => [m.id, m.defaultGuidance, m.neutralPrompt]),
    [
      ['deepfloyd-if', 7, 'a high quality photo'],
      ['mnist-flow', 5, ''],
    ],
  );
  assert.equal(describeDefault(guidanceOption), '7 deepfloyd-if, 5 mnist-flow');
  assert.equal(preferredModel((m) => m.id === 'mnist-flow').id, 'mnist-flow');
  assert.equal(preferredModel(() => true).id, 'deepfloyd-if');
  assert.equal(
    preferredModel(() => false).id,
    'mnist-flow',
    'none installed: the last, whose error says how to get it',
  );
});
