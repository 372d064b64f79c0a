// `npm run bench [part-a|part-b|queue|quality|webgpu|deepfloyd]`: every benchmark of the project, printing figures and
// ratios against the targets. Benchmarks measure; tests assert behaviour. Run on an idle machine.
// `webgpu` runs only when named (on a machine without a GPU it measures a software emulation), and so does
// `deepfloyd` (a 372M-parameter stage I: minutes and ~3 GB; `npm run bench -- deepfloyd cuda` on a GPU).
import { benchPartA } from './part-a.js';
import { benchPartB } from './part-b.js';
import { benchQuality } from './quality.js';
import { benchQueue, formatQueueBench } from './queue.js';
import { benchWebgpu } from './webgpu.js';
import { benchDeepfloyd } from './deepfloyd.js';
import type { ProviderChoice } from '../src/engine/runtime/onnx.js';

const PROVIDERS: readonly ProviderChoice[] = ['auto', 'cpu', 'cuda', 'webgpu'];

const suites: Record<string, () => Promise<unknown>> = {
  'part-b': () => benchPartB(),
  'part-a': () => benchPartA(),
  queue: async () => console.log(formatQueueBench(await benchQueue())),
  quality: () => benchQuality(),
  webgpu: () => benchWebgpu(),
  deepfloyd: () => benchDeepfloyd(providerArg(process.argv[3])),
};
const namedOnly = new Set(['webgpu', 'deepfloyd']);

function providerArg(value: string | undefined): { provider?: ProviderChoice } {
  if (value === undefined) return {};
  if (!PROVIDERS.includes(value as ProviderChoice)) {
    console.error(`unknown provider '${value}'; choose one of ${PROVIDERS.join(', ')}`);
    process.exit(2);
  }
  return { provider: value as ProviderChoice };
}

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
