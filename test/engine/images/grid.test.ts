// Tests for image grids: where each cell lands, padding, caption bands, and that gridPng
// writes an image of the laid-out size with visible captions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { gridPng, makeGrid } from '../../../src/engine/images/grid.js';

/** A w×h×c image filled with one value, so each cell can be found in the sheet. */
function solid(value: number, w = 3, h = 2, c = 1): Float32Array {
  return new Float32Array(w * h * c).fill(value);
}

test('makeGrid places cells row by row with padding around and between', () => {
  const images = [0.1, 0.2, 0.3, 0.4, 0.5].map((v) => solid(v));
  const grid = makeGrid(images, { width: 3, height: 2, channels: 1, cols: 2, pad: 1, padValue: 9 });
  assert.equal(grid.width, 1 + 2 * (3 + 1));
  assert.equal(grid.height, 1 + 3 * (2 + 1));
  assert.deepEqual(
    grid.cells.map((c) => [c.x, c.y]),
    [
      [1, 1],
      [5, 1],
      [1, 4],
      [5, 4],
      [1, 7],
    ],
  );
  const at = (x: number, y: number) => grid.data[y * grid.width + x]!;
  grid.cells.forEach((c, i) => {
    for (let y = 0; y < 2; y++)
      for (let x = 0; x < 3; x++) assert.equal(at(c.x + x, c.y + y), Math.fround(images[i]![0]!));
  });
  assert.equal(at(0, 0), 9);
  assert.equal(at(4, 1), 9, 'gap between columns');
  assert.equal(at(5, 7), 9, 'empty last cell stays padding');
});

test('makeGrid keeps RGB channels interleaved and narrows to the number of images', () => {
  const rgb = new Float32Array([1, 0, 0, 0, 1, 0]); // 2×1: red, green
  const grid = makeGrid([rgb], { width: 2, height: 1, channels: 3, cols: 8, pad: 0 });
  assert.equal(grid.width, 2);
  assert.equal(grid.height, 1);
  assert.deepEqual([...grid.data], [...rgb]);
});

test('makeGrid reserves a caption band above each cell', () => {
  const grid = makeGrid([solid(1), solid(1)], {
    width: 3,
    height: 2,
    channels: 1,
    cols: 1,
    pad: 2,
    labels: ['a', 'b'],
    labelHeight: 5,
  });
  assert.equal(grid.labelHeight, 5);
  assert.deepEqual(grid.cells, [
    { x: 2, y: 7, label: 'a' },
    { x: 2, y: 16, label: 'b' },
  ]);
  assert.equal(grid.height, 2 + 2 * (5 + 2 + 2));
});

test('makeGrid errors name what is allowed', () => {
  assert.throws(() => makeGrid([], { width: 1, height: 1, channels: 1, cols: 1 }), /at least one image/);
  assert.throws(
    () => makeGrid([solid(0)], { width: 3, height: 2, channels: 1, cols: 0 }),
    /cols must be a positive integer/,
  );
  assert.throws(
    () => makeGrid([solid(0), solid(0, 2)], { width: 3, height: 2, channels: 1, cols: 2 }),
    /image 1: 4 values do not make a 3×2×1 image/,
  );
  assert.throws(
    () => makeGrid([solid(0)], { width: 3, height: 2, channels: 1, cols: 1, labels: [] }),
    /1 images but 0 labels/,
  );
});

test('gridPng writes the scaled sheet with its captions drawn', async () => {
  const digits = Array.from({ length: 4 }, () => solid(-1, 28, 28));
  const opts = {
    width: 28,
    height: 28,
    channels: 1 as const,
    cols: 2,
    range: [-1, 1] as const,
    padValue: -1,
    scale: 2,
  };
  const plain = await gridPng(digits, opts);
  const meta = await sharp(plain).metadata();
  assert.equal(meta.width, (2 + 2 * 30) * 2);
  assert.equal(meta.channels, 1);
  assert.equal((await sharp(plain).stats()).channels[0]!.max, 0, 'all black without captions');

  const captioned = await gridPng(digits, { ...opts, labels: ['0', '1', '<2>', '3'] });
  const capMeta = await sharp(captioned).metadata();
  const band = 11; // 40% of 28
  assert.equal(capMeta.height, (2 + 2 * (band + 28 + 2)) * 2);
  const stats = await sharp(captioned).stats();
  assert.ok(stats.channels[0]!.max > 200, 'white caption text on the black padding');
});
