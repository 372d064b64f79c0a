// `npm run bench [part-a|part-b|queue|quality|webgpu]`: every benchmark of the project, printing figures and
// ratios against the targets. Benchmarks measure; tests assert behaviour. Run on an idle machine.
// `webgpu` runs only when named (on a machine without a GPU it measures a software emulation).
import { benchPartA } from './part-a.js';
import { benchPartB } from './part-b.js';
import { benchQuality } from './quality.js';
import { benchQueue, formatQueueBench, queueModesReport } from './queue.js';
import { benchWebgpu } from './webgpu.js';

const suites: Record<string, () => Promise<unknown>> = {
  'part-b': () => benchPartB(),
  'part-a': () => benchPartA(),
  queue: async () => {
    console.log(formatQueueBench(await benchQueue()));
    console.log(await queueModesReport());
  },
  quality: () => benchQuality(),
  webgpu: () => benchWebgpu(),
};
const namedOnly = new Set(['webgpu']);

const only = process.argv[2];
if (only !== undefined && !(only in suites)) {
  console.error(`unknown benchmark '${only}'; choose one of ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
for (const [name, run] of Object.entries(suites)) {
  if (only !== undefined ? name !== only : namedOnly.has(name)) continue;
  console.log(`\n== ${name} ==`);
  await run();
}
