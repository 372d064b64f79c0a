// Models written by the graph builder load and compute correctly in onnxruntime-node (Conv with
// attributes, broadcasting Mul/Add, ReduceMean with axes input, Gelu, fp16 initialisers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, attr } from '../../../src/engine/onnx/graph-builder.js';
import { OnnxSession } from '../../../src/engine/runtime/onnx.js';
import { float16ToFloat32, float32ToFloat16 } from '../../../src/engine/runtime/half.js';

const quiet = { log: () => {} };

function save(bytes: Uint8Array): string {
  const path = join(mkdtempSync(join(tmpdir(), 'gb-')), 'm.onnx');
  writeFileSync(path, bytes);
  return path;
}

test('a 3×3 box-filter Conv, then ·2 + 1 and Gelu, matches a hand computation', async () => {
  const g = new GraphBuilder('conv');
  g.input('x', 'float32', ['batch', 1, 4, 4]);
  g.initializer('w', new Float32Array(9).fill(1 / 9), [1, 1, 3, 3]);
  const y = g.node('Conv', ['x', 'w'], ['y'], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] })[0]!;
  const two = g.initializer('two', Float32Array.of(2), [1]);
  const one = g.initializer('one', Float32Array.of(1), [1]);
  const z = g.op('Add', [g.op('Mul', [y, two]), one]);
  g.node('Gelu', [z], ['out'], { approximate: 'none' });
  g.output('out', 'float32', ['batch', 1, 4, 4]);
  const s = await OnnxSession.load('conv', save(g.toBytes()), quiet);
  const x = new Float32Array(16).fill(0.9);
  const r = await s.run({ x: { type: 'float32', dims: [1, 1, 4, 4], data: x } });
  const out = r.out!.data as Float32Array;
  // Interior pixel: box mean 0.9 → 2.8 → gelu(2.8) = 2.8·Φ(2.8) ≈ 2.79285.
  assert.ok(Math.abs(out[5]! - 2.8 * 0.99744572) < 1e-4, `${out[5]}`);
  assert.deepEqual(r.out!.dims, [1, 1, 4, 4]);
  await s.dispose();
});

test('ReduceMean with an axes input, float attributes and fp16 weights', async () => {
  const g = new GraphBuilder('reduce');
  g.input('x', 'float16', [2, 3]);
  const axes = g.initializer('axes', BigInt64Array.of(1n), [1]);
  const xf = g.op('Cast', ['x'], { to: 1 });
  const m = g.op('ReduceMean', [xf, axes], { keepdims: 0 });
  const lr = g.op('LeakyRelu', [m], { alpha: attr.float(1) });
  const half = g.initializer('h', float32ToFloat16(Float32Array.of(0.5)), [1]);
  const hf = g.op('Cast', [half], { to: 1 });
  g.node('Mul', [lr, hf], ['y']);
  g.output('y', 'float32', [2]);
  const s = await OnnxSession.load('reduce', save(g.toBytes()), quiet);
  const r = await s.run({
    x: { type: 'float16', dims: [2, 3], data: float32ToFloat16(Float32Array.of(1, 2, 3, -3, -6, 0)) },
  });
  assert.deepEqual([...(r.y!.data as Float32Array)], [1, -1.5]);
  assert.equal(s.inputType('x'), 'float16');
});

test('half conversion round-trips representable values and rounds to nearest even', () => {
  const v = Float32Array.of(0, -0, 1, -2.5, 65504, 1e-7, 0.1, 70000);
  const back = float16ToFloat32(float32ToFloat16(v));
  assert.deepEqual([...back.slice(0, 5)], [0, -0, 1, -2.5, 65504]);
  assert.ok(Math.abs(back[5]! - 1e-7) < 6e-8);
  assert.equal(back[6], 0.0999755859375);
  assert.equal(back[7], Infinity);
  assert.equal(float32ToFloat16(Float32Array.of(1 + 2 ** -11))[0], 0x3c00); // tie → even
});

test('duplicate names are refused', () => {
  const g = new GraphBuilder('dup');
  g.input('x', 'float32', [1]);
  assert.throws(() => g.initializer('x', Float32Array.of(1), [1]), /"x" is already used/);
  assert.throws(() => g.initializer('w', Float32Array.of(1, 2), [3]), /3 values\) but 2 values/);
});

test('external initializers read their bytes in place from a file beside a model given as bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gb-ext-'));
  // 16 bytes of padding, then a 2×2 float32 matrix: the initializer points at offset 16.
  const file = new Float32Array([9, 9, 9, 9, 1, 2, 3, 4]);
  writeFileSync(join(dir, 'weights.bin'), new Uint8Array(file.buffer));
  const g = new GraphBuilder('ext');
  g.input('x', 'float32', [1, 2]);
  g.externalInitializer('w', 'float32', [2, 2], { location: 'weights.bin', offset: 16, length: 16 });
  g.node('MatMul', ['x', 'w'], ['y']);
  g.output('y', 'float32', [1, 2]);
  assert.throws(
    () => g.externalInitializer('w2', 'float32', [2, 2], { location: 'weights.bin', offset: 0, length: 8 }),
    /"w2" has dims \[2, 2\] of float32 \(16 bytes\) but 8 bytes in weights\.bin/,
  );
  const s = await OnnxSession.load('ext', g.toBytes(), { ...quiet, externalDataDir: dir });
  const out = await s.run({ x: { type: 'float32', dims: [1, 2], data: new Float32Array([1, 10]) } });
  assert.deepEqual([...(out.y!.data as Float32Array)], [1 + 30, 2 + 40]);
  await s.dispose();
  await assert.rejects(
    OnnxSession.load('ext', save(g.toBytes()), { ...quiet, externalDataDir: dir }),
    /externalDataDir is for models given as bytes/,
  );
});
