// The export cache: a checkpoint's ONNX export is kept in the cache folder on its first load and
// read from there on the next (the same velocities, no export), a changed checkpoint gets its own
// file, and a file cut short is exported again rather than failing the load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadOnnxFlowCheckpoint, type OnnxFlowModel } from '../../../src/engine/flow/onnx-flow-model.js';
import { modelsDir } from '../../../src/engine/paths.js';
import { Rng } from '../../../src/engine/random.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

async function velocities(model: OnnxFlowModel): Promise<Float32Array> {
  const x = new Rng(5).normals(3 * 784);
  const out = await model.velocity(x, new Float32Array([0.1, 0.5, 0.9]), new Int32Array([3, -1, 7]), 3);
  return out.slice();
}

async function once<T>(load: Promise<OnnxFlowModel>, use: (m: OnnxFlowModel) => Promise<T>): Promise<T> {
  const m = await load;
  try {
    return await use(m);
  } finally {
    await m.dispose();
  }
}

test('a checkpoint is exported once into the cache, read back from it, and a changed checkpoint gets its own export', async (t) => {
  const dir = makeTempDir(t);
  const cache = join(dir, 'cache');
  const checkpoint = join(dir, 'model.safetensors');
  copyFileSync(join(modelsDir(), 'mnist-class', 'model.safetensors'), checkpoint);

  const uncached = await once(loadOnnxFlowCheckpoint(checkpoint), velocities);
  const first = await once(loadOnnxFlowCheckpoint(checkpoint, { exportCache: cache }), velocities);
  const files = readdirSync(cache);
  assert.equal(files.length, 1, `one export: ${files.join(', ')}`);
  assert.match(files[0]!, /^[0-9a-f]{64}\.onnx$/);
  const file = join(cache, files[0]!);
  const written = statSync(file).mtimeMs;
  const second = await once(loadOnnxFlowCheckpoint(checkpoint, { exportCache: cache }), velocities);
  assert.equal(statSync(file).mtimeMs, written, 'the second load read the export instead of writing it');
  assert.deepEqual(first, uncached);
  assert.deepEqual(second, uncached);

  // Another checkpoint at the same path (a retrained model): a new key, never the stale export.
  copyFileSync(join(modelsDir(), 'mnist-time', 'guide.safetensors'), checkpoint);
  const other = await once(loadOnnxFlowCheckpoint(checkpoint, { exportCache: cache }), async (m) => m.spec.kind);
  assert.equal(other, 'time');
  assert.equal(readdirSync(cache).length, 2);
});

test('an export cut short in the cache is made again, and the load succeeds', async (t) => {
  const dir = makeTempDir(t);
  const cache = join(dir, 'cache');
  const checkpoint = join(modelsDir(), 'mnist-class', 'model.safetensors');
  const expected = await once(loadOnnxFlowCheckpoint(checkpoint, { exportCache: cache }), velocities);
  const file = join(cache, readdirSync(cache)[0]!);
  const whole = readFileSync(file);
  writeFileSync(file, whole.subarray(0, 1000));
  assert.deepEqual(await once(loadOnnxFlowCheckpoint(checkpoint, { exportCache: cache }), velocities), expected);
  assert.ok(readFileSync(file).equals(whole), 'the export was written again whole');
});

test('a missing checkpoint says so with an export cache as without', async (t) => {
  const dir = makeTempDir(t);
  await assert.rejects(
    loadOnnxFlowCheckpoint(join(dir, 'none.safetensors'), { exportCache: join(dir, 'cache') }),
    /checkpoint not found: .*none\.safetensors/,
  );
});

test("an export's key covers the code that turns a checkpoint's bytes into served weights, not only the exporter", async (t) => {
  // A copy of the compiled engine, changed file by file: each fresh import hashes the code anew.
  const engine = join(makeTempDir(t), 'engine');
  cpSync(fileURLToPath(new URL('../../../src/engine/', import.meta.url)), engine, {
    recursive: true,
    filter: (f) => !f.endsWith('.map'),
  });
  const checkpoint = readFileSync(join(modelsDir(), 'mnist-class', 'model.safetensors'));
  let version = 0;
  const key = async (): Promise<string | undefined> => {
    const url = `${pathToFileURL(join(engine, 'flow', 'onnx-export-cache.js')).href}?${version++}`;
    const { exportPath } = (await import(url)) as typeof import('../../../src/engine/flow/onnx-export-cache.js');
    return exportPath('/cache', checkpoint);
  };
  const before = await key();
  assert.ok(before !== undefined);
  assert.equal(await key(), before, 'the same code, the same key');
  // trainer.js picks the serving weights (the EMA average where there is one), safetensors.js reads
  // them; phase-conv.js writes the transposed convs of the exported graph.
  for (const file of ['flow/onnx-export.js', 'flow/trainer.js', 'flow/safetensors.js', 'onnx/phase-conv.js']) {
    const path = join(engine, file);
    const was = await key();
    appendFileSync(path, '\n// changed\n');
    assert.notEqual(await key(), was, `a change to ${file} makes another key`);
  }
});
