// Tests for GIF encoding: frame count, per-frame delays and loop flag as sharp reads them back,
// exact grey levels, nearest-neighbour upscale, RGB palettes and the argument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { encodeGif } from '../../../src/engine/images/gif.js';

/** A w×h grey frame whose pixels ramp with x, shifted by k (a moving gradient). */
function greyFrame(k: number, w = 8, h = 4): Float32Array {
  return new Float32Array(w * h).map((_, i) => (((i % w) + k) % w) / (w - 1));
}

test('encodeGif writes every frame with its own delay', async () => {
  const frames = [0, 1, 2, 3].map((k) => greyFrame(k));
  const gif = encodeGif(frames, { width: 8, height: 4, channels: 1, delaysMs: [100, 40, 40, 500] });
  const meta = await sharp(gif, { animated: true }).metadata();
  assert.equal(meta.format, 'gif');
  assert.equal(meta.pages, 4);
  assert.deepEqual(meta.delay, [100, 40, 40, 500]);
  assert.equal(meta.loop, 0, 'loops forever by default');
  assert.equal(meta.width, 8);
});

test('encodeGif keeps grey levels exactly and upscales by nearest neighbour', async () => {
  const frame = greyFrame(0);
  const gif = encodeGif([frame, greyFrame(3)], { width: 8, height: 4, channels: 1, delaysMs: 50, scale: 3 });
  const { data, info } = await sharp(gif).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 24);
  assert.equal(info.height, 12);
  for (let y = 0; y < 12; y++) {
    for (let x = 0; x < 24; x++) {
      assert.equal(data[y * 24 + x], Math.round(frame[Math.floor(y / 3) * 8 + Math.floor(x / 3)]! * 255));
    }
  }
});

test('encodeGif maps a [-1, 1] range and can play once', async () => {
  const gif = encodeGif([new Float32Array([-1, 1])], {
    width: 2,
    height: 1,
    channels: 1,
    delaysMs: 20,
    range: [-1, 1],
    loop: false,
  });
  const { data } = await sharp(gif).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([...data], [0, 255]);
  assert.notEqual((await sharp(gif).metadata()).loop, 0);
});

test('encodeGif quantises RGB frames per frame or with one global palette', async () => {
  const red = new Float32Array(4 * 4 * 3).map((_, i) => (i % 3 === 0 ? 1 : 0));
  const blue = new Float32Array(4 * 4 * 3).map((_, i) => (i % 3 === 2 ? 1 : 0));
  for (const rgbPalette of ['per-frame', 'global'] as const) {
    const gif = encodeGif([red, blue], { width: 4, height: 4, channels: 3, delaysMs: 30, rgbPalette });
    const meta = await sharp(gif, { animated: true }).metadata();
    assert.equal(meta.pages, 2);
    const { data, info } = await sharp(gif, { animated: true })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.equal(info.channels, 3);
    assert.deepEqual([...data.subarray(0, 3)], [255, 0, 0], `${rgbPalette}: first frame red`);
    assert.deepEqual([...data.subarray(16 * 3, 16 * 3 + 3)], [0, 0, 255], `${rgbPalette}: second frame blue`);
  }
});

test('encodeGif errors name what is allowed', () => {
  const opts = { width: 8, height: 4, channels: 1 as const };
  assert.throws(() => encodeGif([], { ...opts, delaysMs: 50 }), /at least one frame/);
  assert.throws(() => encodeGif([greyFrame(0)], { ...opts, delaysMs: [50, 50] }), /1 frames but 2 delays/);
  assert.throws(
    () => encodeGif([greyFrame(0)], { ...opts, delaysMs: 10 }),
    /delay 0 is 10 ms; delays must be 20–655350 ms/,
  );
  assert.throws(
    () => encodeGif([greyFrame(0), new Float32Array(3)], { ...opts, delaysMs: 50 }),
    /frame 1: 3 values do not make a 8×4×1 image/,
  );
  assert.throws(
    () => encodeGif([greyFrame(0)], { ...opts, delaysMs: 50, scale: 0 }),
    /scale must be an integer from 1 to 64/,
  );
});
