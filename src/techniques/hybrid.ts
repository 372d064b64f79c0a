// hybrid: a hybrid image (write-up A.1.9): `far` from a distance (low frequencies), `near` up close
// (high frequencies), by factorized diffusion.
import { checkHybrid } from '../engine/techniques/hybrid.js';
import type { HybridParams } from '../jobs/technique-jobs.js';
import {
  checkPrompts,
  commonParams,
  thresholdingOption,
  guidanceOption,
  modelOption,
  promptOption,
  seedOption,
  stepsOption,
} from './common.js';
import { number, text, type TechniqueOption } from './options.js';
import { defineTechnique } from './technique.js';

const far = promptOption('far', 'what it shows from a distance (mnist-flow: a digit)', true);
const near = promptOption('near', 'what it shows up close', true);
const sigma: TechniqueOption = {
  name: 'sigma',
  kind: 'number',
  min: 0.1,
  max: 16,
  help: 'low-pass blur σ in pixels (at most side/4)',
  defaultText: '2 at 64 px, scaled',
};

export const hybrid = defineTechnique<HybridParams>({
  name: 'hybrid',
  description: 'one image that shows `far` from afar and `near` up close',
  options: [far, near, sigma, modelOption, guidanceOption, stepsOption, thresholdingOption, seedOption],
  variations: false,
  promptOf: (p) => `${String(p.far)} (far) / ${String(p.near)} (near)`,
  describeKeys: ['far', 'near', 'sigma', 'model', 'steps', 'guidance'],
  normalize(values, model) {
    const f = text(values, far, model)!;
    const n = text(values, near, model)!;
    checkPrompts(model, [
      ['far', f],
      ['near', n],
    ]);
    const s = number(values, sigma, model);
    const params = {
      ...commonParams(values, model, true),
      far: f,
      near: n,
      ...(s !== undefined ? { sigma: s } : {}),
    } as HybridParams;
    checkHybrid(model, { ...params, seed: 0 });
    return params;
  },
});
