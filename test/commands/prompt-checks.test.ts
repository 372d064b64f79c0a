// The operator's prompt rules: length and blocklist (whole words in any script, or /regex/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/engine/errors.js';
import { compileBlocklist, createPromptCheck } from '../../src/commands/prompt-checks.js';

test('blocklist words match whole words in any case and script; /…/ entries are regular expressions', () => {
  const [word, re] = compileBlocklist(['  Cat ', '/do+g/', '']);
  assert.equal(compileBlocklist(['', '  ']).length, 0);
  assert.ok(word!.test('a CAT on a mat'));
  assert.ok(!word!.test('a category'), 'part of a longer word');
  assert.ok(!word!.test('éCat'), 'a letter of another script touching it');
  assert.ok(re!.test('a DOOOG'), 'case-insensitive even without the i flag');
});

test('the first prompt option over the length or with a blocked word is refused, naming it', () => {
  const check = createPromptCheck(10, ['cat']);
  check(['prompt'], { prompt: 'a dog', steps: 5 });
  check(['prompt'], { other: 'a very long cat prompt' }); // only the named options are prompts
  assert.throws(
    () => check(['far', 'near'], { far: 'ok', near: 'much too long here' }),
    (e: unknown) =>
      e instanceof InputError &&
      e.code === 'prompt-too-long' &&
      e.message === 'near is 18 characters long; the limit here is 10' &&
      e.allowed === 'near: at most 10 characters',
  );
  assert.throws(
    () => check(['prompt'], { prompt: 'a cat' }),
    (e: unknown) => e instanceof InputError && e.code === 'blocked-prompt' && /prompt contains a word/.test(e.message),
  );
});
