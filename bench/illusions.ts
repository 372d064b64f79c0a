// Part A illusions on mnist-flow read by the digit judge (src/engine/flow/judge.ts): an anagram must
// read as prompt 1 as it is and as prompt 2 through its view; a hybrid as the far digit when small
// and as the near digit in its high-pass at full size. Printed per setting, as a share of N images
// (one batch, seed 0), beside the same measure on real digits, which is its ceiling.
import type { Denoiser } from '../src/engine/denoisers/denoiser.js';
import type { DigitJudge } from '../src/engine/flow/judge.js';
import { Rng } from '../src/engine/random.js';
import { anagram } from '../src/engine/sampling/anagram.js';
import { gaussianBlur } from '../src/engine/sampling/blur.js';
import { hybrid } from '../src/engine/sampling/hybrid.js';
import { initialNoise } from '../src/engine/sampling/iterative.js';
import { hybridLowPass } from '../src/engine/techniques/hybrid.js';
import { samplerFor } from '../src/engine/techniques/timesteps.js';
import { tensor, type Tensor } from '../src/engine/tensor.js';
import { createView } from '../src/engine/views/registry.js';
import type { ModelEntry } from '../src/engine/models/registry.js';

const PIXELS = 784;
const SIDE = 28;
/** The far digit is read at half size: the judge reads 92% of real digits at 14 px, 31% at 7 px. */
export const FAR_SIZE = 14;
const THRESHOLD = 0.9;

/** Each image contrast-stretched to a maximum of 1 (a low- or high-pass keeps only part of the ink). */
function stretch(img: Float32Array): Float32Array {
  const out = new Float32Array(img.length);
  for (let b = 0; b < img.length / PIXELS; b++) {
    let m = 1e-6;
    for (let i = b * PIXELS; i < (b + 1) * PIXELS; i++) m = Math.max(m, img[i]!);
    for (let i = b * PIXELS; i < (b + 1) * PIXELS; i++) out[i] = Math.max(0, img[i]!) / m;
  }
  return out;
}

/** The image as seen at `size` px (box average; size divides 28), scaled back up bilinearly for the judge. */
export function atSize(img: Float32Array, size: number): Float32Array {
  const f = SIDE / size;
  const out = new Float32Array(img.length);
  for (let b = 0; b < img.length / PIXELS; b++) {
    const s = new Float32Array(size * size);
    for (let y = 0; y < SIDE; y++)
      for (let x = 0; x < SIDE; x++)
        s[Math.floor(y / f) * size + Math.floor(x / f)]! += img[b * PIXELS + y * SIDE + x]! / (f * f);
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const sy = Math.min(size - 1, Math.max(0, (y + 0.5) / f - 0.5));
        const sx = Math.min(size - 1, Math.max(0, (x + 0.5) / f - 0.5));
        const y0 = Math.floor(sy),
          x0 = Math.floor(sx),
          y1 = Math.min(size - 1, y0 + 1),
          x1 = Math.min(size - 1, x0 + 1);
        const wy = sy - y0,
          wx = sx - x0;
        out[b * PIXELS + y * SIDE + x] =
          (1 - wy) * ((1 - wx) * s[y0 * size + x0]! + wx * s[y0 * size + x1]!) +
          wy * ((1 - wx) * s[y1 * size + x0]! + wx * s[y1 * size + x1]!);
      }
    }
  }
  return stretch(out);
}

/** The positive part of image − low-pass (the hybrid's own filter), contrast-stretched. */
export function highPass(img: Float32Array, filter: { sigma: number; kernelSize: number }): Float32Array {
  const lo = gaussianBlur(tensor([img.length / PIXELS, 1, SIDE, SIDE], img), filter).data;
  return stretch(img.map((v, i) => v - lo[i]!));
}

async function readAs(judge: DigitJudge, images: Float32Array): Promise<number[]> {
  return (await judge.judge(images)).map((v) => (v.confidence >= THRESHOLD ? v.label : -1));
}

const unit = (x: Tensor): Float32Array => x.data.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)));
const pct = (k: number, n: number) => `${((100 * k) / n).toFixed(0)}%`;

export interface HybridSetting {
  far: number;
  near: number;
  sigma?: number;
  guidance: number;
}

/** Share of hybrids read as far (small) and near (high-pass), and both at once. */
export async function hybridReadings(
  judge: DigitJudge,
  d: Denoiser,
  entry: ModelEntry,
  s: HybridSetting,
  n: number,
): Promise<{ far: number; near: number; both: number; sigma: number }> {
  const filter = hybridLowPass(entry, s.sigma);
  const rng = new Rng(0);
  const r = await hybrid(d, initialNoise(d, n, rng), {
    farPrompt: String(s.far),
    nearPrompt: String(s.near),
    filter,
    rng,
    guidanceScale: s.guidance,
    ...samplerFor(33),
  });
  const img = unit(r.image);
  const far = await readAs(judge, atSize(img, FAR_SIZE));
  const near = await readAs(judge, highPass(img, filter));
  let f = 0,
    nn = 0,
    both = 0;
  for (let i = 0; i < n; i++) {
    f += Number(far[i] === s.far);
    nn += Number(near[i] === s.near);
    both += Number(far[i] === s.far && near[i] === s.near);
  }
  return { far: f / n, near: nn / n, both: both / n, sigma: filter.sigma };
}

export async function benchIllusions(
  judge: DigitJudge,
  d: Denoiser,
  entry: ModelEntry,
  guidance: number,
  n = 20,
): Promise<void> {
  // Ceilings: real held-out digits at the far size and in the high-pass of the default filter.
  const real = judge.heldOut.images.subarray(0, 200 * PIXELS);
  const labels = judge.heldOut.labels.slice(0, 200);
  const ok = (read: number[]) => read.filter((r, i) => r === labels[i]).length;
  const filter = hybridLowPass(entry);
  console.log(
    `  real digits (ceiling of the measures): ${pct(ok(await readAs(judge, atSize(real, FAR_SIZE))), 200)} read at ${FAR_SIZE} px, ${pct(ok(await readAs(judge, highPass(real, filter))), 200)} in the high-pass of σ ${filter.sigma} (the default), ${pct(ok(await readAs(judge, highPass(real, { sigma: 1.5, kernelSize: 25 }))), 200)} of σ 1.5`,
  );
  const [, height, width] = d.imageShape;
  const views = [createView('identity', { height, width }), createView('flip', { height, width })];
  const rng = new Rng(0);
  const a = await anagram(d, initialNoise(d, n, rng), {
    prompts: ['6', '9'],
    views,
    rng,
    guidanceScale: guidance,
    ...samplerFor(33),
  });
  const upright = await readAs(judge, unit(a.image));
  const turned = await readAs(judge, unit(views[1]!.view(a.image)));
  const both = upright.filter((u, i) => u === 6 && turned[i] === 9).length;
  console.log(
    `  anagram 6 / 9 (flip), γ ${guidance} (default), ${n} images: ${pct(upright.filter((u) => u === 6).length, n)} read as 6, ${pct(turned.filter((t) => t === 9).length, n)} as 9 turned, ${pct(both, n)} both`,
  );
  const settings: HybridSetting[] = [
    { far: 1, near: 8, guidance },
    { far: 0, near: 1, guidance },
    { far: 1, near: 8, sigma: 1.5, guidance },
    { far: 0, near: 1, sigma: 1.5, guidance },
  ];
  for (const s of settings) {
    const r = await hybridReadings(judge, d, entry, s, n);
    console.log(
      `  hybrid far ${s.far} near ${s.near}, σ ${r.sigma}${s.sigma === undefined ? ' (default)' : ''}, γ ${s.guidance}, ${n} images: far ${pct(r.far, 1)} at ${FAR_SIZE} px, near ${pct(r.near, 1)} in the high-pass, both ${pct(r.both, 1)}`,
    );
  }
}
