// `illusionist embed`: precomputes DeepFloyd IF prompt embeddings (T5 v1.1 XXL) into the store's
// cache, e.g. on the GPU machine before a party, so jobs with those prompts skip the encoder.
import type { Command } from 'commander';
import { DeepFloydIF, embeddingKey } from '../../engine/denoisers/deepfloyd-if.js';
import { deepFloydIF, deepfloydVariant } from '../../engine/models/deepfloyd-if.js';
import { storeEmbeddingCache } from '../../jobs/embedding-cache.js';
import { openStore, dataDir, databasePath } from '../../store/index.js';

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('precompute DeepFloyd IF prompt embeddings into the cache (T5 then runs once per prompt)')
    .requiredOption('--prompt <text...>', 'one or more prompts ("" is the unconditional one, always added)')
    .action(async (o: { prompt: string[] }) => {
      const dir = deepFloydIF.locate();
      const variant = deepfloydVariant();
      const encoderId = DeepFloydIF.textEncoderIdOf(dir, variant)!;
      const store = openStore(databasePath(dataDir()));
      try {
        const cache = storeEmbeddingCache(store.embeddings, 'deepfloyd-if');
        const prompts = [...new Set([...o.prompt, ''])];
        const fresh = [];
        for (const p of prompts) if ((await cache.get(embeddingKey(encoderId, p))) === undefined) fresh.push(p);
        if (fresh.length > 0) {
          const model = await DeepFloydIF.load({ dir, variant, cache });
          try {
            await model.encode(fresh);
          } finally {
            await model.dispose();
          }
        }
        process.stdout.write(
          `${prompts.length} prompt embeddings cached (${fresh.length} computed, ${prompts.length - fresh.length} already there)\n`,
        );
      } finally {
        store.close();
      }
    });
}
