// Parses a command typed as text (Slack slash commands and mentions), where the platform gives no
// typed options: `"quoted prompts"`, `key:value` options and positional values mapped by the definition.
import type { CommandDefinition, OptionDef } from '../commands/contract.js';

export type TextToken =
  | { readonly kind: 'word'; readonly text: string }
  | { readonly kind: 'quoted'; readonly text: string }
  | { readonly kind: 'option'; readonly name: string; readonly value: string };

export class CommandTextError extends Error {
  override readonly name = 'CommandTextError';
  constructor(
    message: string,
    /** What is allowed instead, for the private error reply. */
    readonly allowed?: string,
  ) {
    super(message);
  }
}

// Slack's and phones' keyboards turn "straight" quotes into curly ones; a prompt typed either way
// must read the same. Apostrophes (’) are not quotes: "people’s campfire" stays one word.
const CLOSING: Record<string, string> = { '"': '"', '“': '”', '„': '“', '”': '”' };

/** Slack escapes &, < and > in command text (its mrkdwn rules); prompts want the characters back. */
export function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

function readQuoted(text: string, start: number): { value: string; end: number } {
  const close = CLOSING[text[start]!]!;
  let i = start + 1;
  let value = '';
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length && (text[i + 1] === close || text[i + 1] === '\\')) {
      value += text[i + 1];
      i += 2;
      continue;
    }
    // A closing curly quote closes whatever opened; keyboards mix them.
    if (c === close || (c === '"' && close !== '"') || (c === '”' && close !== '”')) return { value, end: i + 1 };
    value += c;
    i++;
  }
  throw new CommandTextError(
    `a quote opened at ${text.slice(start, start + 20)}… is never closed`,
    'put each prompt in "double quotes"',
  );
}

/**
 * Splits `text` into words, quoted strings and `name:value` (or `name=value`) options; an
 * option's value may itself be quoted (`prompt:"a red fox"`).
 *
 * @example
 * tokenize('"a cat" "a dog" view:flip') // quoted, quoted, option view=flip
 */
export function tokenize(text: string): TextToken[] {
  const tokens: TextToken[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c in CLOSING) {
      const q = readQuoted(text, i);
      tokens.push({ kind: 'quoted', text: q.value });
      i = q.end;
      continue;
    }
    const option = /^([a-z][a-z0-9_]{0,31})[:=]/i.exec(text.slice(i));
    // `https://…` is a word, not an option named https.
    if (option && !/^[:=]\/\//.test(text.slice(i + option[1]!.length)) && !/^https?$/i.test(option[1]!)) {
      const name = option[1]!.toLowerCase();
      let j = i + option[0].length;
      let value = '';
      if (j < text.length && text[j]! in CLOSING) {
        const q = readQuoted(text, j);
        value = q.value;
        j = q.end;
      } else {
        while (j < text.length && !/\s/.test(text[j]!)) value += text[j++];
      }
      tokens.push({ kind: 'option', name, value });
      i = j;
      continue;
    }
    let word = '';
    while (i < text.length && !/\s/.test(text[i]!)) word += text[i++];
    tokens.push({ kind: 'word', text: word });
  }
  return tokens;
}

/**
 * The option that unquoted words run together into: the last required text option (the prompt
 * of /imagine, the near image of /hybrid), or the first free-text one when none is required.
 * Without this, `/imagine a photo of a cat` would need quotes.
 */
function gluedOption(slots: readonly OptionDef[]): OptionDef | undefined {
  const text = slots.filter((o) => o.type === 'string' && !o.choices);
  return text.filter((o) => o.required).at(-1) ?? text[0];
}

/**
 * Maps the tokens of `text` onto `definition`'s options. Named options go by name (unknown names
 * are kept, so the service can answer with the list of options). Positional values fill the
 * options in definition order (attachments skipped), except that a value which is one of an
 * unfilled option's choices goes there (`/anagram 6 9 flip`); unquoted words run together
 * in the glued text option. Values stay strings: the service coerces and checks them.
 *
 * @example
 * parseCommandText(anagram, '"an oil painting" "a volcano" view:flip')
 * // { prompt1: 'an oil painting', prompt2: 'a volcano', view: 'flip' }
 */
export function parseCommandText(definition: CommandDefinition, text: string): Record<string, string> {
  const tokens = tokenize(unescapeSlack(text));
  const options: Record<string, string> = {};
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (t.name in options) throw new CommandTextError(`${t.name} is given twice`, 'give each option once');
    options[t.name] = t.value;
  }
  const slots = definition.options.filter((o) => o.type !== 'attachment');
  const glued = gluedOption(slots);
  const nextSlot = (): OptionDef | undefined => slots.find((o) => !(o.name in options));
  let gluing: OptionDef | undefined;
  for (const t of tokens) {
    if (t.kind === 'option') {
      gluing = undefined;
      continue;
    }
    const value = t.text;
    const choice = slots.find((o) => !(o.name in options) && o.choices?.some((c) => String(c.value) === value));
    if (choice && t.kind === 'word') {
      options[choice.name] = value;
      gluing = undefined;
      continue;
    }
    if (gluing && t.kind === 'word') {
      options[gluing.name] += ` ${value}`;
      continue;
    }
    const slot = nextSlot();
    if (!slot) {
      const names = definition.options.map((o) => o.name).join(', ') || 'none';
      throw new CommandTextError(
        `/${definition.name} got more values than it has options ("${value}" is left over)`,
        `quote prompts with spaces; options: ${names}`,
      );
    }
    options[slot.name] = value;
    gluing = t.kind === 'word' && slot === glued ? slot : undefined;
  }
  return options;
}
