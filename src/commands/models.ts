// Which models a command may use: the Part A denoisers (mnist-flow from a class checkpoint,
// deepfloyd-if when its export is installed) and the Part B checkpoints registered in the store.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEEPFLOYD_FILES, EXPORT_HINT } from '../engine/denoisers/deepfloyd-if.js';
import { modelsDir } from '../engine/paths.js';
import type { Checkpoint, Store } from '../store/index.js';
import { CommandError } from './errors.js';

/** Store model kinds of the Part B checkpoints. */
export const MNIST_KINDS = { class: 'mnist-class', time: 'mnist-time', denoiser: 'mnist-denoiser' } as const;

export interface ResolvedModel {
  /** 'mnist-flow' | 'deepfloyd-if' | a flow checkpoint name. */
  readonly model: string;
  readonly checkpoint?: Checkpoint | undefined;
}

export interface ModelCatalog {
  /** Part A models installed now, default first. */
  denoisers(): string[];
  /** `name` omitted: deepfloyd-if when installed, else mnist-flow. A class checkpoint name means mnist-flow on it. */
  resolveDenoiser(name: string | undefined): ResolvedModel;
  /** A flow checkpoint (class or time model) for /digits; omitted: the default class model. */
  resolveFlow(name: string | undefined): ResolvedModel & { readonly checkpoint: Checkpoint; readonly kind: 'class' | 'time' };
  /** Every registered checkpoint. */
  checkpoints(): Checkpoint[];
}

export function deepFloydInstalled(dir = join(modelsDir(), 'deepfloyd-if')): boolean {
  return [DEEPFLOYD_FILES.tokenizer, DEEPFLOYD_FILES.textEncoder, DEEPFLOYD_FILES.stageI].every((f) => existsSync(join(dir, f)));
}

const NO_MNIST =
  'no MNIST flow model is installed; an admin can train one with /train, or the operator can put ' +
  'models/mnist-class/model.safetensors in place and restart';

export function createModelCatalog(store: Store, options: { deepFloydDir?: string } = {}): ModelCatalog {
  const hasDeepFloyd = (): boolean => deepFloydInstalled(options.deepFloydDir);
  const flowCheckpoints = (): Checkpoint[] =>
    store.training.listCheckpoints().filter((c) => c.modelKind === MNIST_KINDS.class || c.modelKind === MNIST_KINDS.time);
  const classDefault = (): Checkpoint | undefined => store.training.getDefaultCheckpoint(MNIST_KINDS.class);

  const catalog: ModelCatalog = {
    denoisers() {
      const out: string[] = [];
      if (hasDeepFloyd()) out.push('deepfloyd-if');
      if (classDefault()) out.push('mnist-flow');
      return out;
    },
    resolveDenoiser(name) {
      const wanted = name ?? (hasDeepFloyd() ? 'deepfloyd-if' : 'mnist-flow');
      if (wanted === 'deepfloyd-if') {
        if (!hasDeepFloyd()) throw new CommandError('model-not-installed', 'model deepfloyd-if is not installed on this bot', `installed: ${catalog.denoisers().join(', ') || 'none'}. ${EXPORT_HINT}`);
        return { model: 'deepfloyd-if' };
      }
      if (wanted === 'mnist-flow') {
        const checkpoint = classDefault();
        if (!checkpoint) throw new CommandError('model-not-installed', NO_MNIST, `installed: ${catalog.denoisers().join(', ') || 'none'}`);
        return { model: 'mnist-flow', checkpoint };
      }
      const checkpoint = store.training.findCheckpoint(MNIST_KINDS.class, wanted);
      if (!checkpoint) {
        const names = store.training.listCheckpoints(MNIST_KINDS.class).map((c) => c.name);
        throw new CommandError('model-not-installed', `there is no model "${wanted}"`, `models: ${['mnist-flow', 'deepfloyd-if', ...names].join(', ')} (deepfloyd-if only when installed)`);
      }
      return { model: checkpoint.name, checkpoint };
    },
    resolveFlow(name) {
      if (name === undefined || name === 'mnist-flow') {
        const checkpoint = classDefault() ?? store.training.getDefaultCheckpoint(MNIST_KINDS.time);
        if (!checkpoint) throw new CommandError('model-not-installed', NO_MNIST, 'see /checkpoints');
        return { model: checkpoint.name, checkpoint, kind: checkpoint.modelKind === MNIST_KINDS.time ? 'time' : 'class' };
      }
      const checkpoint = flowCheckpoints().find((c) => c.name === name);
      if (!checkpoint) {
        const names = flowCheckpoints().map((c) => c.name);
        throw new CommandError('model-not-installed', `there is no MNIST flow checkpoint "${name}"`, `checkpoints: ${names.join(', ') || 'none yet (/train makes one)'}`);
      }
      return { model: checkpoint.name, checkpoint, kind: checkpoint.modelKind === MNIST_KINDS.time ? 'time' : 'class' };
    },
    checkpoints: () => store.training.listCheckpoints(),
  };
  return catalog;
}
