// Anagrams must view a spatial conditioning (stage II's low-res image) exactly like x_t: checked with a
// denoiser whose ε is x_t − image, so the combined ε is x − image only if both were viewed alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Conditioning, Denoiser } from '../../../src/engine/denoisers/denoiser.js';
import { Rng } from '../../../src/engine/random.js';
import { anagramEstimator, viewConditioning } from '../../../src/engine/sampling/anagram.js';
import { encodeGuided } from '../../../src/engine/sampling/cfg.js';
import { cosineSchedule } from '../../../src/engine/schedules/noise-schedule.js';
import { mse, randn, sub, takeBatch, type Tensor } from '../../../src/engine/tensor.js';
import { createView } from '../../../src/engine/views/registry.js';

class ImageConditioning implements Conditioning {
  constructor(
    readonly prompts: readonly string[],
    readonly image: Tensor,
  ) {}
  take(rows: readonly number[]): ImageConditioning {
    return new ImageConditioning(
      rows.map((r) => this.prompts[r]!),
      takeBatch(this.image, rows),
    );
  }
  withImage(image: Tensor): ImageConditioning {
    return new ImageConditioning(this.prompts, image);
  }
}

test('anagram views the conditioning image block by block', async () => {
  const image = randn([1, 1, 8, 8], new Rng(1));
  const den: Denoiser = {
    id: 'spy',
    imageShape: [1, 8, 8],
    schedule: cosineSchedule(),
    encode: async (prompts) =>
      new ImageConditioning(
        prompts,
        takeBatch(
          image,
          prompts.map(() => 0),
        ),
      ),
    predict: async (xt, _t, cond) => ({ eps: sub(xt, cond.image!) }),
  };
  const views = ['identity', 'flip', 'skew'].map((n) => createView(n, { height: 8, width: 8 }));
  const cond = viewConditioning(await encodeGuided(den, ['a', 'b', 'c'], 1), views);
  const x = randn([1, 1, 8, 8], new Rng(2));
  const { eps } = await anagramEstimator(den, cond, views, 7)(x, 500);
  assert.ok(mse(eps, sub(x, image)) < 1e-12);
});
