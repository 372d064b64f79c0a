// The operator's rules for free text: a prompt length and a blocklist of words (matched whole, any
// case) or `/regular expressions/`. Checked before anything is decoded or queued.
import { InputError } from '../engine/errors.js';

export function compileBlocklist(entries: readonly string[]): RegExp[] {
  return entries
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => {
      const re = /^\/(.*)\/([a-z]*)$/.exec(e);
      if (re) return new RegExp(re[1]!, re[2]!.includes('i') ? re[2]! : `${re[2]!}i`);
      // Whole words: letters or digits may not touch it on either side (any script).
      return new RegExp(`(^|[^\\p{L}\\p{N}])${e.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}\\p{N}])`, 'iu');
    });
}

export type PromptCheck = (names: readonly string[], values: Readonly<Record<string, unknown>>) => void;

/** Throws a 'prompt-too-long' or 'blocked-prompt' InputError for the first option of `names` that breaks a rule. */
export function createPromptCheck(maxPromptLength: number, blocklist: readonly string[]): PromptCheck {
  const blocked = compileBlocklist(blocklist);
  return (names, values) => {
    for (const name of names) {
      const text = values[name];
      if (typeof text !== 'string') continue;
      if (text.length > maxPromptLength) {
        throw new InputError(
          `${name} is ${text.length} characters long; the limit here is ${maxPromptLength}`,
          `${name}: at most ${maxPromptLength} characters`,
          'prompt-too-long',
        );
      }
      if (blocked.some((re) => re.test(text))) {
        throw new InputError(
          `${name} contains a word this server does not allow`,
          'rephrase the prompt without it',
          'blocked-prompt',
        );
      }
    }
  };
}
