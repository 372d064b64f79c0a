// Uploads on a real store: refused from what the platform reports before any byte is fetched,
// refused on decode when the header lies, and otherwise stored shrunk as a PNG artifact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { InputError } from '../../src/engine/errors.js';
import { UPLOAD_WORKING_SIZE } from '../../src/engine/techniques/inputs.js';
import { createImageSaver, semaphore } from '../../src/commands/uploads.js';
import type { Attachment } from '../../src/commands/contract.js';
import { openTestStore } from '../helpers/open-test-store.js';

const limits = { maxPromptLength: 200, maxUploadBytes: 1024 * 1024, maxUploadPixels: 4096 * 4096 };
const neverFetched = (name: string, extra: Partial<Attachment>): Attachment => ({
  name,
  size: 10,
  ...extra,
  fetch: async () => assert.fail('fetched a refused upload'),
});

test('size, type and pixel count reported by the platform are refused before fetching, naming the option', async (t) => {
  const save = createImageSaver(openTestStore(t), limits);
  await assert.rejects(
    save(neverFetched('big.png', { size: 2 * 1024 * 1024 }), 'image'),
    (e: unknown) =>
      e instanceof InputError &&
      e.code === 'too-large' &&
      e.message === 'image (big.png) is 2.0 MiB; the limit is 1.0 MiB' &&
      /^image: an image \(PNG, JPEG, WebP, GIF\) of at most 1\.0 MiB/.test(e.allowed ?? ''),
  );
  await assert.rejects(
    save(neverFetched('a.pdf', { contentType: 'application/pdf' }), 'mask'),
    (e: unknown) =>
      e instanceof InputError && e.code === 'not-an-image' && /^mask \(a\.pdf\) is application\/pdf/.test(e.message),
  );
  await assert.rejects(
    save(neverFetched('huge.png', { width: 5000, height: 5000 }), 'image'),
    (e: unknown) => e instanceof InputError && e.code === 'too-large' && /5000×5000 pixels/.test(e.message),
  );
  await assert.rejects(
    save({ name: 'notes.txt', size: 5, fetch: async () => Buffer.from('hello') }, 'image'),
    (e: unknown) => e instanceof InputError && e.code === 'not-an-image',
  );
});

test('a good upload is stored as a PNG artifact at the working size, remembering the size it was sent at', async (t) => {
  const store = openTestStore(t);
  const save = createImageSaver(store, limits);
  const jpeg = await sharp({ create: { width: 1200, height: 600, channels: 3, background: '#f80' } })
    .jpeg()
    .toBuffer();
  const ref = await save(
    { name: 'photo.jpg', contentType: 'image/jpeg', size: jpeg.length, fetch: async () => jpeg },
    'image',
  );
  assert.deepEqual([ref.sourceWidth, ref.sourceHeight], [1200, 600]);
  assert.equal(Math.max(ref.width, ref.height), UPLOAD_WORKING_SIZE);
  const meta = await sharp(readFileSync(ref.path)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', ref.width, ref.height]);
  assert.equal(store.artifacts.get(ref.sha256)?.path, ref.path);
});

test('the decode semaphore runs at most n tasks at once, the rest in order', async () => {
  const limit = semaphore(2);
  let running = 0;
  let most = 0;
  const order: number[] = [];
  await Promise.all(
    [1, 2, 3, 4, 5].map((i) =>
      limit(async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setImmediate(r));
        order.push(i);
        running -= 1;
      }),
    ),
  );
  assert.equal(most, 2);
  assert.deepEqual(order, [1, 2, 3, 4, 5]);
});
