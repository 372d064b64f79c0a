// Runtime wrapper: missing files name the path and the fix, feeds are checked against inputNames, and a
// failing run reports every input's name, dims and dtype.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../../../src/engine/onnx/graph-builder.js';
import { MissingModelError, ModelFolder, OnnxRunError } from '../../../src/engine/runtime/onnx.js';

function folderWithAdd(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rt-'));
  const g = new GraphBuilder('add');
  g.input('a', 'float32', [2]);
  g.input('b', 'float32', [2]);
  g.node('Add', ['a', 'b'], ['c']);
  g.output('c', 'float32', [2]);
  writeFileSync(join(dir, 'add.onnx'), g.toBytes());
  return dir;
}

test('a missing model file names the path and how to produce it', () => {
  const folder = new ModelFolder('/nonexistent/models', { howToProduce: 'run scripts/export.py', log: () => {} });
  assert.throws(
    () => folder.session('unet', 'unet.onnx'),
    (e: Error) =>
      e instanceof MissingModelError &&
      e.message.includes('/nonexistent/models/unet.onnx') &&
      e.message.includes('scripts/export.py'),
  );
});

test('feeds are checked by name and failing runs describe every input', async () => {
  const logs: string[] = [];
  const folder = new ModelFolder(folderWithAdd(), { howToProduce: '-', log: (m) => logs.push(m) });
  const s = await folder.session('add', 'add.onnx');
  assert.match(logs[0]!, /add on (CPU|CUDA)/);
  assert.equal(await folder.session('add', 'add.onnx'), s, 'sessions are cached by name');
  const a = { type: 'float32' as const, dims: [2], data: Float32Array.of(1, 2) };
  assert.deepEqual([...((await s.run({ a, b: a })).c!.data as Float32Array)], [2, 4]);
  await assert.rejects(
    s.run({ a, x: a }),
    (e: Error) => e instanceof OnnxRunError && /missing b; unknown x/.test(e.message),
  );
  await assert.rejects(
    s.run({ a, b: { type: 'float32', dims: [3], data: Float32Array.of(1, 2, 3) } }),
    (e: Error) =>
      e instanceof OnnxRunError &&
      /b: float32 \[3\]/.test(e.message) &&
      /expected:\n {2}a: float32 \[2\]/.test(e.message),
  );
  await folder.dispose();
  await assert.rejects(s.run({ a, b: a }), /was disposed/);
});
