// smallPng (pngjs) writes the PNGs of digits: its files read back, by libvips, as the bytes it was
// given, grey and RGB, at 1× and upscaled by nearest neighbour; bad sizes are refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { smallPng } from '../../../src/engine/images/png.js';
import { encodePng } from '../../../src/engine/images/encode.js';

const bytesOf = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 37 + (i >> 3)) % 256);

test('smallPng files read back as the grey and RGB bytes given, upscaled by nearest neighbour', async () => {
  for (const channels of [1, 3] as const) {
    const [w, h] = [7, 5];
    const bytes = bytesOf(w * h * channels);
    for (const scale of [1, 3]) {
      const png = smallPng(bytes, w, h, channels, scale);
      const meta = await sharp(png).metadata();
      assert.equal(meta.format, 'png');
      assert.equal(meta.channels, channels, 'grey stays one channel');
      assert.deepEqual([meta.width, meta.height], [w * scale, h * scale]);
      // Without b-w, sharp reads a grey PNG out as RGB.
      const raw = await (channels === 1 ? sharp(png).toColourspace('b-w') : sharp(png)).raw().toBuffer();
      for (let y = 0; y < h * scale; y++)
        for (let x = 0; x < w * scale; x++)
          for (let c = 0; c < channels; c++) {
            const want = bytes[(Math.floor(y / scale) * w + Math.floor(x / scale)) * channels + c];
            assert.equal(raw[(y * w * scale + x) * channels + c], want, `pixel (${x}, ${y}) channel ${c} at ${scale}×`);
          }
    }
  }
});

test('smallPng and encodePng (sharp) give the same pixels for one image', async () => {
  const pixels = Float32Array.from(bytesOf(28 * 28), (b) => b / 255);
  const viaSharp = await sharp(await encodePng(pixels, 28, 28, 1, { scale: 2 }))
    .raw()
    .toBuffer();
  const quantized = Uint8Array.from(pixels, (v) => Math.round(v * 255));
  const viaPngjs = await sharp(smallPng(quantized, 28, 28, 1, 2))
    .raw()
    .toBuffer();
  assert.deepEqual(viaPngjs, viaSharp);
});

test('smallPng refuses bytes that do not make the image, and bad scales', () => {
  assert.throws(() => smallPng(new Uint8Array(10), 7, 5, 1), /smallPng: 10 values do not make a 7×5×1 image/);
  assert.throws(() => smallPng(new Uint8Array(35), 7, 5, 1, 0), /scale must be an integer from 1 to 64, got 0/);
});
