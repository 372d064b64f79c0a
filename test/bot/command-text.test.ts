// The text-command parser of the Slack front end: quotes (straight and curly), key:value options,
// positional values mapped by the real definitions, and its errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CommandTextError, parseCommandText, tokenize } from '../../src/bot/command-text.js';
import { loadCommands } from '../../src/commands/registry.js';

const commands = loadCommands();
const def = (name: string) => commands.get(name)!.definition;

test('tokenize: quoted strings, options with quoted values, words; URLs are words', () => {
  assert.deepEqual(tokenize(' "a cat"  view:flip prompt:"a red fox" seed=4 https://x.y/z 7 '), [
    { kind: 'quoted', text: 'a cat' },
    { kind: 'option', name: 'view', value: 'flip' },
    { kind: 'option', name: 'prompt', value: 'a red fox' },
    { kind: 'option', name: 'seed', value: '4' },
    { kind: 'word', text: 'https://x.y/z' },
    { kind: 'word', text: '7' },
  ]);
  assert.deepEqual(tokenize('"say \\"hi\\""'), [{ kind: 'quoted', text: 'say "hi"' }]);
});

test("the issue's example: two quoted prompts and a view", () => {
  assert.deepEqual(
    parseCommandText(def('anagram'), '"an oil painting of people around a campfire" "a photo of a volcano" view:flip'),
    {
      prompt1: 'an oil painting of people around a campfire',
      prompt2: 'a photo of a volcano',
      view: 'flip',
    },
  );
});

test("curly quotes from phones and Slack's escaping read like straight quotes", () => {
  assert.deepEqual(parseCommandText(def('hybrid'), '“a lithograph of a skull” “people’s faces &amp; hats” sigma:2'), {
    far: 'a lithograph of a skull',
    near: 'people’s faces & hats',
    sigma: '2',
  });
});

test('positional values: in order, choices where they fit, unquoted words glued into the prompt', () => {
  assert.deepEqual(parseCommandText(def('anagram'), '6 9 flip seed:3'), {
    prompt1: '6',
    prompt2: '9',
    view: 'flip',
    seed: '3',
  });
  assert.deepEqual(parseCommandText(def('digits'), '7 8'), { digit: '7', count: '8' });
  assert.deepEqual(parseCommandText(def('imagine'), 'a photo of a cat seed:5'), {
    prompt: 'a photo of a cat',
    seed: '5',
  });
  assert.deepEqual(parseCommandText(def('edit'), 'prompt:7 i_start:10'), { prompt: '7', i_start: '10' });
  assert.deepEqual(parseCommandText(def('edit'), 'a sleepy cat i_start:10'), { prompt: 'a sleepy cat', i_start: '10' });
  assert.deepEqual(parseCommandText(def('gallery'), 'top anagram'), { filter: 'top', command: 'anagram' });
  assert.deepEqual(parseCommandText(def('queue'), ''), {});
});

test('mistakes are errors that say what is allowed; unknown option names are kept for the service', () => {
  assert.throws(
    () => parseCommandText(def('anagram'), '"6 9'),
    (e: unknown) => e instanceof CommandTextError && /never closed/.test(e.message),
  );
  assert.throws(() => parseCommandText(def('digits'), 'seed:1 seed:2'), /seed is given twice/);
  assert.throws(
    () => parseCommandText(def('queue'), 'now'),
    (e: unknown) => e instanceof CommandTextError && /left over/.test(e.message) && e.allowed !== undefined,
  );
  assert.deepEqual(parseCommandText(def('anagram'), '6 9 veiw:flip'), { prompt1: '6', prompt2: '9', veiw: 'flip' });
});
