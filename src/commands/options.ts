// Server-side checks of option values against their definitions: types (front ends that send
// text, like Slack and web forms, are coerced here), required options, ranges, choices, lengths.
import type { Attachment, CommandDefinition, OptionDef, OptionValue } from './contract.js';
import { InputError } from '../engine/errors.js';
import { helpWithDefault, type TechniqueOption } from '../techniques/options.js';

export type ParsedOptions = Readonly<Record<string, string | number | boolean | Attachment>>;

export function isAttachment(value: unknown): value is Attachment {
  return typeof value === 'object' && value !== null && typeof (value as Attachment).fetch === 'function';
}

function describeRange(def: OptionDef): string {
  const kind = def.type === 'integer' ? 'an integer' : 'a number';
  if (def.min !== undefined && def.max !== undefined) return `${kind} from ${def.min} to ${def.max}`;
  if (def.min !== undefined) return `${kind} ≥ ${def.min}`;
  if (def.max !== undefined) return `${kind} ≤ ${def.max}`;
  return kind;
}

function coerce(def: OptionDef, raw: OptionValue): string | number | boolean | Attachment {
  const bad = (allowed: string): never => {
    const shown = isAttachment(raw) ? `a file (${raw.name})` : `"${String(raw)}"`;
    throw new InputError(`${def.name} must be ${allowed}, got ${shown}`, `${def.name}: ${allowed}`);
  };
  switch (def.type) {
    case 'attachment':
      return isAttachment(raw) ? raw : bad('an uploaded image');
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|yes|on|1)$/i.test(raw.trim())) return true;
      if (typeof raw === 'string' && /^(false|no|off|0)$/i.test(raw.trim())) return false;
      return bad('true or false');
    case 'integer':
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw.trim()) : NaN;
      const ok = Number.isFinite(n) && (def.type === 'number' || Number.isInteger(n));
      if (!ok || (def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max))
        return bad(describeRange(def));
      return n;
    }
    case 'string': {
      // A number is text too: typed front ends send integers where a list of them may be given ("5" or "1,3,5").
      if (typeof raw !== 'string' && !(typeof raw === 'number' && Number.isFinite(raw))) return bad('text');
      const s = String(raw).trim();
      if (def.maxLength !== undefined && s.length > def.maxLength) {
        throw new InputError(
          `${def.name} is ${s.length} characters long; the limit is ${def.maxLength}`,
          `${def.name}: at most ${def.maxLength} characters`,
          'prompt-too-long',
        );
      }
      return s;
    }
  }
}

/**
 * A technique option as every chat front end shows it: an 'image' is an attachment, a list of
 * integers is text ("1,3,5", which its help says); the description carries the default.
 */
export function toOptionDef(o: TechniqueOption): OptionDef {
  const type = o.kind === 'image' ? 'attachment' : o.kind === 'integers' ? 'string' : o.kind;
  const listLength = o.kind === 'integers' ? { maxLength: 64 } : {};
  return {
    name: o.name,
    type,
    description: helpWithDefault(o),
    ...(o.required ? { required: true } : {}),
    ...(o.choices ? { choices: o.choices } : {}),
    ...(o.kind === 'integer' || o.kind === 'number' ? { min: o.min, max: o.max } : {}),
    ...(o.maxLength !== undefined ? { maxLength: o.maxLength } : listLength),
    ...(o.below ? { below: o.below } : {}),
  };
}

/**
 * Checks `raw` against the command's options: unknown names, missing required ones, types,
 * ranges, choices and lengths, each refused with a message that names the option and what it
 * accepts. Empty strings count as absent (web forms send every field).
 */
export function validateOptions(
  definition: CommandDefinition,
  raw: Readonly<Record<string, OptionValue>>,
): ParsedOptions {
  const out: Record<string, string | number | boolean | Attachment> = {};
  const known = new Map(definition.options.map((o) => [o.name, o]));
  for (const name of Object.keys(raw)) {
    if (!known.has(name)) {
      const names = definition.options.map((o) => o.name).join(', ') || 'none';
      throw new InputError(`/${definition.name} has no option "${name}"`, `options of /${definition.name}: ${names}`);
    }
  }
  for (const def of definition.options) {
    const value = raw[def.name];
    if (value === undefined || value === '') {
      if (def.required) {
        const what = def.type === 'attachment' ? 'an image attachment' : `a value (${def.description})`;
        throw new InputError(
          `/${definition.name} needs ${def.name}: ${what}`,
          `${def.name}: ${def.description}`,
          'missing-option',
        );
      }
      continue;
    }
    const v = coerce(def, value);
    if (def.choices && !def.choices.some((c) => c.value === v)) {
      const allowed = def.choices.map((c) => String(c.value)).join(', ');
      throw new InputError(`${def.name} "${String(v)}" is not one of the choices`, `${def.name}: ${allowed}`);
    }
    out[def.name] = v;
  }
  return out;
}

/** Typed accessors for a command's parse step, after validateOptions. */
export function str(o: ParsedOptions, name: string): string | undefined {
  const v = o[name];
  return typeof v === 'string' ? v : undefined;
}

export function num(o: ParsedOptions, name: string): number | undefined {
  const v = o[name];
  return typeof v === 'number' ? v : undefined;
}

export function bool(o: ParsedOptions, name: string): boolean | undefined {
  const v = o[name];
  return typeof v === 'boolean' ? v : undefined;
}

export function file(o: ParsedOptions, name: string): Attachment | undefined {
  const v = o[name];
  return isAttachment(v) ? v : undefined;
}
