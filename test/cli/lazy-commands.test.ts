// The CLI loads only the command it is asked for, and the engine worker only the engine of the job
// it runs: `illusionist digits` reaches its first step without tfjs, bullmq, sharp or DeepFloyd's
// ONNX builder, and its options and help are the same as in the program with every command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../src/cli/main.js';

const dist = fileURLToPath(new URL('../../src/', import.meta.url));

test('a command built alone has the same options and help as in the program with every command', async () => {
  const full = await buildProgram();
  const names = full.commands.map((c) => c.name());
  for (const name of ['train', 'digits', 'export-model', 'embed', 'deepfloyd', 'jobs', 'gallery', 'worker', 'imagine'])
    assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  for (const name of names) {
    const alone = await buildProgram([name]);
    const cmd = alone.commands.find((c) => c.name() === name);
    assert.ok(cmd, `illusionist ${name} is registered when named`);
    assert.equal(
      cmd.helpInformation(),
      full.commands.find((c) => c.name() === name)!.helpInformation(),
      `help of ${name}`,
    );
  }
  assert.deepEqual(
    (await buildProgram(['--help'])).commands.map((c) => c.name()),
    names,
    'no command named: all of them',
  );
});

/** The npm packages a fresh process has required (CommonJS) after running `script`. */
function packagesLoaded(script: string): string[] {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `${script}
const { createRequire } = await import('node:module');
const seen = new Set(Object.keys(createRequire(import.meta.url).cache).map((k) => k.match(/node_modules\\/((@[^/]+\\/)?[^/]+)/)?.[1]).filter(Boolean));
process.stdout.write(JSON.stringify([...seen]));`,
    ],
    { encoding: 'utf8', cwd: dist },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}

const HEAVY = ['@tensorflow/tfjs', '@tensorflow/tfjs-core', 'bullmq', 'onnx-proto', '@img/sharp-linux-x64', 'gifenc'];

test('illusionist digits loads no training, Redis, image or DeepFloyd module before its job', () => {
  const loaded = packagesLoaded(
    `const { buildProgram } = await import('./cli/main.js'); await buildProgram(['digits']);`,
  );
  assert.ok(loaded.includes('commander'), `the probe sees packages: ${loaded.join(', ')}`);
  assert.deepEqual(
    HEAVY.filter((p) => loaded.includes(p)),
    [],
  );
  const all = packagesLoaded(`const { buildProgram } = await import('./cli/main.js'); await buildProgram();`);
  assert.ok(
    all.includes('bullmq') && all.includes('@tensorflow/tfjs'),
    'the whole program does load them (the probe can tell)',
  );
});

test("the engine worker's handlers load no engine until a job needs it", () => {
  const loaded = packagesLoaded(`await import('./jobs/engine-handlers.js');`);
  assert.deepEqual(
    [...HEAVY, 'better-sqlite3'].filter((p) => loaded.includes(p)),
    [],
  );
});
