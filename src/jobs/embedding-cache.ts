// DeepFloyd IF prompt embeddings kept in the store's `embeddings` table, so T5 runs once per
// distinct prompt across jobs, workers and restarts (the engine sees only its EmbeddingCache).
import type { EmbeddingCache } from '../engine/denoisers/deepfloyd-if.js';
import type { EmbeddingsStore } from '../store/index.js';

export function storeEmbeddingCache(embeddings: EmbeddingsStore, model: string): EmbeddingCache {
  return {
    get(prompt) {
      const hit = embeddings.get(model, prompt);
      // The engine asks for fp32; an fp16 row (written by another tool) is a miss, recomputed once.
      return hit && hit.data instanceof Float32Array ? hit.data : undefined;
    },
    set(prompt, embedding) {
      embeddings.put(model, prompt, { dims: [embedding.length], data: embedding });
    },
  };
}
