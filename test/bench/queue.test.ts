// Keeps the queue benchmark runnable: a small run returns finite, sensible figures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchQueue, formatQueueBench } from '../../bench/queue.js';

test('benchQueue returns throughput, latency and memory figures', async () => {
  const figures = await benchQueue({ jobs: 30, latencyJobs: 10 });
  assert.equal(figures.jobs, 30);
  assert.ok(figures.jobsPerSecond > 0);
  assert.ok(figures.enqueueToFirstProgressP50Ms > 0);
  assert.ok(figures.enqueueToFirstProgressP95Ms >= figures.enqueueToFirstProgressP50Ms);
  assert.ok(figures.memory.workerHeapLastMiB > 0);
  assert.match(formatQueueBench(figures), /jobs\/s/);
});
