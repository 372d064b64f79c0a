// Engine handlers for the queue benchmark: a trivial job (one progress event, optionally a tiny
// output file) that measures the queue's own overhead and reports the worker's memory.
import { defineHandlers } from '../src/jobs/handler.js';

export const handlers = defineHandlers({
  trivial: async (input, ctx) => {
    await ctx.progress(1, 1);
    const memory = process.memoryUsage();
    return {
      files: (input.params as { file?: boolean }).file
        ? [{ data: new TextEncoder().encode(`seed ${input.seed}`), ext: 'txt' }]
        : [],
      metrics: { workerHeapUsed: memory.heapUsed, rss: memory.rss },
    };
  },
});
