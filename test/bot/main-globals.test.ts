// The bot's process must not load libraries that change built-in prototypes: vega-lite's
// Set.prototype.toJSON made discord.js throw while it was imported after it, so `npm start`
// with DISCORD_TOKEN crashed. Charts are drawn in the engine worker and the CLI only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const modules = ['../../src/bot/main.js', '../../src/bot/discord.js', '../../src/bot/slack.js'].map(
  (m) => new URL(m, import.meta.url).href,
);

// Runs in a fresh process, so nothing the test runner loaded can hide a change.
const script = `
const builtins = { Object, Array, Set, Map, WeakMap, String, Number, Boolean, Function, Promise, Date, RegExp, Error, Symbol, BigInt, ArrayBuffer, Uint8Array };
const snapshot = () => Object.fromEntries(Object.entries(builtins).flatMap(([name, C]) => [
  [name + '.prototype', Reflect.ownKeys(C.prototype).map(String).sort()],
  [name, Reflect.ownKeys(C).map(String).sort()],
]));
const before = snapshot();
const globalsBefore = new Set(Reflect.ownKeys(globalThis).map(String));
for (const m of ${JSON.stringify(modules)}) await import(m);
const after = snapshot();
const changed = [];
for (const key of Object.keys(before)) {
  const added = after[key].filter((k) => !before[key].includes(k));
  if (added.length) changed.push(key + ': ' + added.join(', '));
}
const newGlobals = Reflect.ownKeys(globalThis).map(String).filter((k) => !globalsBefore.has(k));
console.log(JSON.stringify({ changed, newGlobals, setToJSON: typeof Set.prototype.toJSON }));
`;

test("importing the bot's modules leaves built-in prototypes as they were (no Set.prototype.toJSON)", () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
    cwd: fileURLToPath(new URL('.', import.meta.url)),
  });
  assert.equal(r.status, 0, r.stderr);
  const { changed, setToJSON } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    changed: string[];
    newGlobals: string[];
    setToJSON: string;
  };
  assert.equal(setToJSON, 'undefined');
  assert.deepEqual(changed, [], 'a module the bot imports added properties to built-ins');
});

test('discord.js imports after the command service (whose registry reaches the chart code)', () => {
  const service = new URL('../../src/commands/service.js', import.meta.url).href;
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(service)}); await import('discord.js'); console.log('ok');`,
    ],
    {
      encoding: 'utf8',
      timeout: 120_000,
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'ok');
});

test("the bot's main thread does not load onnxruntime's native library (only its engine worker does)", () => {
  // Two threads holding onnxruntime-node can abort the process as it exits ("terminate called after
  // throwing an instance of 'Napi::Error'"), so the modules the main thread imports load it lazily.
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `for (const m of ${JSON.stringify(modules)}) await import(m); const { readFileSync } = await import('node:fs'); console.log(readFileSync('/proc/self/maps', 'utf8').includes('onnxruntime_binding') ? 'loaded' : 'not loaded');`,
    ],
    { encoding: 'utf8', timeout: 120_000, cwd: fileURLToPath(new URL('.', import.meta.url)) },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').at(-1), 'not loaded');
});
