// The options list of a technique: each option once, with its type, limits, default (per model where it
// differs) and help. The chat definitions (Discord, Slack, the web form) and the CLI's flags are made
// from these lists, and `normalize` reads values through them, so every front end has the same defaults.
import { InputError } from '../engine/errors.js';
import { MODELS, type ModelEntry } from '../engine/models/registry.js';

/**
 * 'image': an upload (chat attachment, CLI file); 'integers': one integer or a comma-separated list
 * ("1,3,5"), which chat platforms show as text.
 */
export type OptionKind = 'string' | 'integer' | 'number' | 'image' | 'integers';
export type OptionDefault = string | number | readonly number[];

export interface TechniqueOption {
  /** Chat name, `[a-z0-9_]`; the CLI flag is the same with `-` for `_` (i_start → --i-start). */
  readonly name: string;
  readonly kind: OptionKind;
  /** What it is, without the default (added from `default` / `defaultText`); with it at most 100 characters (Discord's rule). */
  readonly help: string;
  readonly required?: boolean | undefined;
  /** Numbers: the range of the value; 'integers': of each value. */
  readonly min?: number | undefined;
  readonly max?: number | undefined;
  /** 'integers': the most values in the list. */
  readonly maxItems?: number | undefined;
  /** 'integer': the value must be below this other option's value (its default when omitted). */
  readonly below?: { readonly option: string; readonly default: number } | undefined;
  readonly maxLength?: number | undefined;
  readonly choices?: readonly { readonly name: string; readonly value: string }[] | undefined;
  /** Free text: the chat's blocklist and its operator's prompt length apply to it. */
  readonly prompt?: boolean | undefined;
  /** The value when omitted; a function where it depends on the model. */
  readonly default?: OptionDefault | ((model: ModelEntry) => OptionDefault) | undefined;
  /** How the default reads when it depends on other options (the technique's normalize applies it). */
  readonly defaultText?: string | undefined;
}

/** Option values after the type and range checks (chat: validateOptions), by option name. */
export type OptionValues = Readonly<Record<string, unknown>>;

function show(v: OptionDefault): string {
  return Array.isArray(v) ? v.join(',') : String(v);
}

/** "33", or per model where the models differ: "7 deepfloyd-if, 5 mnist-flow". */
export function describeDefault(option: TechniqueOption): string | undefined {
  if (option.defaultText !== undefined) return option.defaultText;
  const d = option.default;
  if (d === undefined) return undefined;
  if (typeof d !== 'function') return show(d);
  const each = MODELS.map((m) => ({ id: m.id, v: show(d(m)) }));
  return new Set(each.map((e) => e.v)).size === 1 ? each[0]!.v : each.map((e) => `${e.v} ${e.id}`).join(', ');
}

/** The help with its default: "classifier-free guidance scale γ (default 7 deepfloyd-if, 5 mnist-flow)". */
export function helpWithDefault(option: TechniqueOption): string {
  const d = describeDefault(option);
  return d === undefined ? option.help : `${option.help} (default ${d})`;
}

function defaultOf(option: TechniqueOption, model: ModelEntry): OptionDefault | undefined {
  const d = option.default;
  return typeof d === 'function' ? d(model) : d;
}

export function optionNamed(options: readonly TechniqueOption[], name: string): TechniqueOption {
  const o = options.find((x) => x.name === name);
  if (!o) throw new Error(`no option ${name}`);
  return o;
}

/** A text option's value, or its default. */
export function text(values: OptionValues, option: TechniqueOption, model: ModelEntry): string | undefined {
  const v = values[option.name];
  if (typeof v === 'string') return v;
  const d = defaultOf(option, model);
  return typeof d === 'string' ? d : undefined;
}

/** A number option's value, or its default. */
export function number(values: OptionValues, option: TechniqueOption, model: ModelEntry): number | undefined {
  const v = values[option.name];
  if (typeof v === 'number') return v;
  const d = defaultOf(option, model);
  return typeof d === 'number' ? d : undefined;
}

/** An 'integers' option: "1, 3,5" or a single number, each value in range; or its default. */
export function integers(values: OptionValues, option: TechniqueOption, model: ModelEntry): number[] | undefined {
  const v = values[option.name];
  const { name, min = -Infinity, max = Infinity, maxItems = Infinity } = option;
  const allowed = `${name}: integers from ${min} to ${max}, comma-separated${maxItems < Infinity ? `, at most ${maxItems}` : ''}`;
  if (v === undefined) {
    const d = defaultOf(option, model);
    return Array.isArray(d) ? [...(d as readonly number[])] : typeof d === 'number' ? [d] : undefined;
  }
  const parts =
    typeof v === 'number'
      ? [String(v)]
      : String(v)
          .split(/[\s,]+/)
          .filter(Boolean);
  if (parts.length === 0) throw new InputError(`${name} "${String(v)}" holds no number`, allowed);
  const bad = parts.find((p) => !/^\d+$/.test(p) || Number(p) < min || Number(p) > max);
  if (bad !== undefined)
    throw new InputError(`${name} "${String(v)}": ${bad} is not an integer from ${min} to ${max}`, allowed);
  if (parts.length > maxItems)
    throw new InputError(`${name} "${String(v)}" has ${parts.length} values; the most is ${maxItems}`, allowed);
  return parts.map(Number);
}
