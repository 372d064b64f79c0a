// The prompt-embedding cache returns exactly what was stored (float32 and float16 bits) and
// keeps only the most recently used entries when pruned.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTestStore } from '../helpers/open-test-store.js';

test('round-trips float32 and float16 embeddings by model and prompt', (t) => {
  const { embeddings } = openTestStore(t);
  const f32 = Float32Array.from({ length: 2 * 8 }, (_, i) => Math.sin(i) * 1e3);
  const f16 = Uint16Array.from({ length: 8 }, (_, i) => 0x3c00 + i);
  embeddings.put('t5-xxl', 'a photo of a cat', { dims: [1, 2, 8], data: f32 });
  embeddings.put('t5-xxl-fp16', 'a photo of a cat', { dims: [8], data: f16 });
  const a = embeddings.get('t5-xxl', 'a photo of a cat')!;
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.dims, [1, 2, 8]);
  assert.deepEqual(a.data, f32);
  const b = embeddings.get('t5-xxl-fp16', 'a photo of a cat')!;
  assert.equal(b.dtype, 'float16');
  assert.deepEqual(b.data, f16);
  assert.equal(embeddings.get('t5-xxl', 'a photo of a dog'), undefined);
  assert.throws(() => embeddings.put('m', 'p', { dims: [3], data: new Float32Array(4) }), /hold 3 values/);
});

test('prune keeps the most recently used entries', (t) => {
  const { embeddings } = openTestStore(t);
  for (let i = 0; i < 5; i++) embeddings.put('m', `p${i}`, { dims: [1], data: new Float32Array([i]) }, 1000 + i);
  embeddings.get('m', 'p0', 2000);
  assert.equal(embeddings.prune(2), 3);
  assert.ok(embeddings.get('m', 'p0'));
  assert.ok(embeddings.get('m', 'p4'));
  assert.equal(embeddings.count(), 2);
});
