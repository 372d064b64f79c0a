// A Part A technique as every front end sees it: its options list and the one normalize that turns
// checked option values into the job's parameters (diffusers' check_inputs), once, at enqueue time.
import type { ModelEntry } from '../engine/models/registry.js';
import type { TechniqueName, TechniqueParams } from '../jobs/technique-jobs.js';
import type { OptionValues, TechniqueOption } from './options.js';

export interface Technique<P extends TechniqueParams = TechniqueParams> {
  readonly name: TechniqueName;
  /** At most 100 characters (Discord's rule). */
  readonly description: string;
  /** Required options first (Discord's rule). Options of kind 'image' are uploads the front end stores. */
  readonly options: readonly TechniqueOption[];
  /** Whether the first output is a single picture that SDEdit variations make sense of. */
  readonly variations: boolean;
  /** The parameters worth showing in a caption, in order. */
  readonly describeKeys: readonly string[];
  /** What the job was asked to show (captions, /job, the gallery); default its `prompt`. */
  promptOf?(params: Readonly<Record<string, unknown>>): string;
  /** The parameters as a caption shows them, where that differs from the job's shape. */
  captionParams?(params: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>>;
  /**
   * Values (already checked against the options' types and ranges) → the job's parameters, with every
   * default filled in; throws an InputError naming what is wrong and what is allowed. Uploads are not
   * read here: `withInputs` adds them once the front end has stored them.
   */
  normalize(values: OptionValues, model: ModelEntry): P;
}

export function defineTechnique<P extends TechniqueParams>(t: Technique<P>): Technique<P> {
  return t;
}
