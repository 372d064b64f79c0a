// Which models a command may use: the Part A denoisers of the model registry (those with checkpoints
// from the store's class checkpoints, the others when their files are installed) and the Part B
// checkpoints registered in the store.
import {
  checkpointModel,
  isModelId,
  modelEntry,
  MODEL_IDS,
  MODELS,
  preferredModel,
  type ModelEntry,
  type ModelId,
} from '../engine/models/registry.js';
import type { Checkpoint, Store } from '../store/index.js';
import { InputError } from '../engine/errors.js';

/** Store model kinds of the Part B checkpoints. */
export const MNIST_KINDS = { class: 'mnist-class', time: 'mnist-time', denoiser: 'mnist-denoiser' } as const;

export interface ResolvedModel {
  /** A registered model id, or a flow checkpoint name. */
  readonly model: string;
  readonly checkpoint?: Checkpoint | undefined;
}

export interface ModelCatalog {
  /** Part A models installed now, default first. */
  denoisers(): string[];
  /** `name` omitted: the first installed model of the registry. A class checkpoint name means the checkpoint model on it. */
  resolveDenoiser(name: string | undefined): ResolvedModel;
  /** A flow checkpoint (class or time model) for /digits; omitted: the default class model. */
  resolveFlow(
    name: string | undefined,
  ): ResolvedModel & { readonly checkpoint: Checkpoint; readonly kind: 'class' | 'time' };
  /** Every registered checkpoint. */
  checkpoints(): Checkpoint[];
}

/** The registry entry a resolution runs on: a checkpoint means the model whose weights are checkpoints. */
export function denoiserOf(resolved: ResolvedModel): ModelEntry {
  return resolved.checkpoint ? checkpointModel() : modelEntry(resolved.model as ModelId);
}

const NO_MNIST =
  'no MNIST flow model is installed; an admin can train one with /train, or the operator can put ' +
  'models/mnist-class/model.safetensors in place and restart';

export function createModelCatalog(store: Store, options: { deepFloydDir?: string } = {}): ModelCatalog {
  const flowCheckpoints = (): Checkpoint[] =>
    store.training
      .listCheckpoints()
      .filter((c) => c.modelKind === MNIST_KINDS.class || c.modelKind === MNIST_KINDS.time);
  const classDefault = (): Checkpoint | undefined => store.training.getDefaultCheckpoint(MNIST_KINDS.class);
  // The bot's checkpoints are the store's (committed models are registered there at start-up).
  const installed = (m: ModelEntry): boolean =>
    m.supports.checkpoints ? classDefault() !== undefined : m.installed({ dir: options.deepFloydDir });
  const installedList = (): string =>
    MODELS.filter(installed)
      .map((m) => m.id)
      .join(', ') || 'none';

  const catalog: ModelCatalog = {
    denoisers: () => MODELS.filter(installed).map((m) => m.id),
    resolveDenoiser(name) {
      const wanted = name ?? preferredModel(installed).id;
      if (isModelId(wanted)) {
        const entry = modelEntry(wanted);
        if (entry.supports.checkpoints) {
          const checkpoint = classDefault();
          if (!checkpoint) throw new InputError(NO_MNIST, `installed: ${installedList()}`, 'model-not-installed');
          return { model: entry.id, checkpoint };
        }
        if (!installed(entry)) {
          let how = '';
          try {
            entry.locate({ dir: options.deepFloydDir });
          } catch (err) {
            how = ` ${(err as Error).message}`;
          }
          throw new InputError(
            `model ${entry.id} is not installed on this bot`,
            `installed: ${installedList()}.${how}`,
            'model-not-installed',
          );
        }
        return { model: entry.id };
      }
      const checkpoint = store.training.findCheckpoint(MNIST_KINDS.class, wanted);
      if (!checkpoint) {
        const names = store.training.listCheckpoints(MNIST_KINDS.class).map((c) => c.name);
        throw new InputError(
          `there is no model "${wanted}"`,
          `models: ${[...MODEL_IDS, ...names].join(', ')} (each only when installed)`,
          'model-not-installed',
        );
      }
      return { model: checkpoint.name, checkpoint };
    },
    resolveFlow(name) {
      if (name === undefined || name === checkpointModel().id) {
        const checkpoint = classDefault() ?? store.training.getDefaultCheckpoint(MNIST_KINDS.time);
        if (!checkpoint) throw new InputError(NO_MNIST, 'see /checkpoints', 'model-not-installed');
        return {
          model: checkpoint.name,
          checkpoint,
          kind: checkpoint.modelKind === MNIST_KINDS.time ? 'time' : 'class',
        };
      }
      const checkpoint = flowCheckpoints().find((c) => c.name === name);
      if (!checkpoint) {
        const names = flowCheckpoints().map((c) => c.name);
        throw new InputError(
          `there is no MNIST flow checkpoint "${name}"`,
          `checkpoints: ${names.join(', ') || 'none yet (/train makes one)'}`,
          'model-not-installed',
        );
      }
      return { model: checkpoint.name, checkpoint, kind: checkpoint.modelKind === MNIST_KINDS.time ? 'time' : 'class' };
    },
    checkpoints: () => store.training.listCheckpoints(),
  };
  return catalog;
}
