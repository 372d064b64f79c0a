// Fitting a reply's files into an upload limit: nothing changes under it; over it PNGs and GIFs
// shrink, and what cannot fit is left out with a note (never silently).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { ReplyFile } from '../../src/commands/contract.js';
import { fitFiles } from '../../src/bot/upload-limit.js';

async function noisePng(size: number): Promise<ReplyFile> {
  const data = await sharp(randomBytes(size * size * 3), { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
  return { name: 'noise.png', contentType: 'image/png', data };
}

test('files under the limit pass unchanged', async () => {
  const small = await noisePng(16);
  const fitted = await fitFiles([small], 1024 * 1024);
  assert.equal(fitted.files[0], small);
  assert.deepEqual(fitted.notes, []);
});

test('a PNG over the limit is re-encoded or downscaled until it fits, and says so', async () => {
  const big = await noisePng(256);
  const other: ReplyFile = { name: 'small.txt', contentType: 'text/plain', data: Buffer.from('hello') };
  const limit = Math.floor(big.data.length / 3);
  const fitted = await fitFiles([big, other], limit);
  assert.deepEqual(
    fitted.files.map((f) => f.name),
    ['noise.png', 'small.txt'],
    'order kept',
  );
  assert.ok(fitted.files.reduce((n, f) => n + f.data.length, 0) <= limit);
  const meta = await sharp(fitted.files[0]!.data).metadata();
  assert.equal(meta.format, 'png');
  assert.match(fitted.notes[0]!, /noise\.png was (scaled to \d+%|re-encoded) to fit the/);
});

test('a file that cannot fit is left out with a note', async () => {
  const blob: ReplyFile = { name: 'data.bin', contentType: 'application/octet-stream', data: randomBytes(5000) };
  const fitted = await fitFiles([blob], 1000);
  assert.deepEqual(fitted.files, []);
  assert.match(fitted.notes[0]!, /data\.bin \(5 KiB\) was left out: over the 1 KiB upload limit/);
});
