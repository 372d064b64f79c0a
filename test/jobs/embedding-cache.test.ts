// The store-backed embedding cache the engine worker hands to DeepFloyd IF: what is set comes back
// bit-for-bit from another connection, per model, and a missing prompt is a miss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { storeEmbeddingCache } from '../../src/jobs/embedding-cache.js';

test('embeddings set through the cache are read back by another connection, per model', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'illusionist-emb-')), 'illusionist.db');
  const a = openStore(file);
  const b = openStore(file);
  try {
    const emb = Float32Array.from({ length: 77 * 8 }, (_, i) => Math.sin(i) * 1e3);
    await storeEmbeddingCache(a.embeddings, 'deepfloyd-if').set('a photo of a volcano', emb);
    assert.deepEqual(await storeEmbeddingCache(b.embeddings, 'deepfloyd-if').get('a photo of a volcano'), emb);
    assert.equal(await storeEmbeddingCache(b.embeddings, 'deepfloyd-if').get('a volcano'), undefined);
    assert.equal(await storeEmbeddingCache(b.embeddings, 'other-model').get('a photo of a volcano'), undefined);
  } finally {
    a.close();
    b.close();
  }
});
