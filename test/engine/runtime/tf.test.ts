// The project's wasm conv-training kernels against the pure-JS cpu backend on several shapes,
// strides and paddings (every kernel registered here is tested against `cpu`: docs/training-engine.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { initTf, tf, wantedWasmThreads } from '../../../src/engine/runtime/tf.js';
import { maxAbsDiff } from '../../helpers/arrays.js';

type Pad = 'same' | 'valid' | number;

async function onBackend<T>(name: string, f: () => Promise<T>): Promise<T> {
  assert.ok(await tf.setBackend(name), `backend ${name} did not start`);
  return f();
}

test('initTf starts wasm with the project kernels and says so', async () => {
  const rt = await initTf('wasm');
  assert.equal(rt.backend, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.match(rt.description, /project conv-training kernels/);
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'), 'Conv2DBackpropFilter registered for wasm');
});

test('the wasm backend runs the threads it reports', async () => {
  const rt = await initTf('wasm');
  const m = /(\d+) threads?\b/.exec(rt.description);
  assert.ok(m, `description names the thread count: ${rt.description}`);
  // biome-ignore lint/suspicious/noExplicitAny: the wasm module is not part of tfjs' public types
  const wasm = (tf.engine().findBackend('wasm') as any).wasm;
  assert.equal(wasm.tfjs.getThreadsCount(), Number(m[1]));
  if (process.env.ILLUSIONIST_TF_THREADS === undefined && (os.availableParallelism?.() ?? os.cpus().length) > 1) {
    assert.ok(Number(m[1]) > 1, `several cores but ${rt.description}`);
  }
});

test('ILLUSIONIST_TF_THREADS picks the thread count and rejects nonsense', () => {
  assert.equal(wantedWasmThreads({ ILLUSIONIST_TF_THREADS: '1' }), 1);
  assert.equal(wantedWasmThreads({ ILLUSIONIST_TF_THREADS: '3' }), 3);
  assert.equal(wantedWasmThreads({ ILLUSIONIST_TF_THREADS: '64' }), 8);
  assert.ok(wantedWasmThreads({}) >= 1);
  assert.throws(() => wantedWasmThreads({ ILLUSIONIST_TF_THREADS: 'two' }), /positive integer/);
  assert.throws(() => wantedWasmThreads({ ILLUSIONIST_TF_THREADS: '0' }), /positive integer/);
});

/** Runs a fresh process that starts wasm and trains a conv one step; it must exit by itself. */
function childRun(env: Record<string, string>): {
  status: number | null;
  stdout: string;
  stderr: string;
  signal: string | null;
} {
  const tfUrl = new URL('../../../src/engine/runtime/tf.js', import.meta.url).href;
  const script = `
    const { initTf, tf } = await import(${JSON.stringify(tfUrl)});
    const rt = await initTf('wasm');
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 1);
    const f = tf.variable(tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2));
    tf.train.sgd(0.1).minimize(() => tf.sum(tf.square(tf.conv2d(x, f, 1, 'same'))));
    console.log(rt.description, (await f.data())[0]);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

test('a process on the threaded wasm backend exits by itself', () => {
  const r = childRun({ ILLUSIONIST_TF_THREADS: '2' });
  assert.equal(r.signal, null, `killed by ${r.signal} (did the pthread workers keep it alive?)`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /2 threads/);
});

test('ILLUSIONIST_TF_THREADS=1 selects the single-threaded build', () => {
  const r = childRun({ ILLUSIONIST_TF_THREADS: '1' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /1 thread\b/);
});

test('when threads cannot start, wasm falls back to 1 thread and says why', () => {
  const r = childRun({ ILLUSIONIST_TF_THREADS: '2', ILLUSIONIST_TF_WORKER_DIR: '/dev/null/not-a-dir' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /1 thread\b/);
  assert.match(r.stderr, /multithreaded wasm backend unavailable \(.*not-a-dir.*\); using 1 thread/);
});

test('initTf refuses to switch backends once started', async () => {
  await initTf('wasm');
  await assert.rejects(initTf('cpu'), /already started with backend 'wasm'/);
});

const convCases: Array<{
  x: [number, number, number, number];
  f: [number, number, number, number];
  s: number;
  p: Pad | [number, number];
}> = [
  { x: [2, 8, 8, 3], f: [3, 3, 3, 5], s: 1, p: 1 },
  { x: [2, 8, 8, 3], f: [3, 3, 3, 5], s: 2, p: 1 },
  { x: [2, 7, 7, 3], f: [3, 3, 3, 4], s: 2, p: 'same' },
  { x: [3, 9, 9, 2], f: [3, 3, 2, 4], s: 2, p: 'valid' },
  { x: [1, 14, 14, 4], f: [4, 4, 4, 6], s: 2, p: 1 },
  { x: [2, 10, 6, 2], f: [5, 3, 2, 3], s: 3, p: 'same' },
  { x: [2, 28, 28, 1], f: [3, 3, 1, 8], s: 1, p: 1 },
];

for (const c of convCases) {
  test(`conv2d gradients (dx via Conv2DBackpropInput, dW via Conv2DBackpropFilter) match cpu: x ${c.x.join('×')}, W ${c.f.join('×')}, stride ${c.s}, pad ${c.p}`, async () => {
    await initTf('wasm');
    const run = () =>
      tf.tidy(() => {
        const x = tf.randomNormal(c.x, 0, 1, 'float32', 1) as tf.Tensor4D;
        const f = tf.randomNormal(c.f, 0, 1, 'float32', 2) as tf.Tensor4D;
        const pad = typeof c.p === 'number' ? c.p : c.p;
        const y = tf.conv2d(x, f, c.s, pad as 'same');
        const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, pad as 'same'), dy)),
        )([x, f]);
        return [dx!, dw!];
      });
    const ref = await onBackend('cpu', async () => {
      const [a, b] = run();
      return [await a!.data(), await b!.data()] as Float32Array[];
    });
    const got = await onBackend('wasm', async () => {
      const [a, b] = run();
      return [await a!.data(), await b!.data()] as Float32Array[];
    });
    assert.ok(maxAbsDiff(ref[0]!, got[0]!) < 1e-4, `dx differs by ${maxAbsDiff(ref[0]!, got[0]!)}`);
    assert.ok(maxAbsDiff(ref[1]!, got[1]!) < 1e-3, `dW differs by ${maxAbsDiff(ref[1]!, got[1]!)}`);
  });
}

const transposeCases: Array<{
  x: [number, number, number, number];
  f: [number, number, number, number];
  out: [number, number, number, number];
  s: number;
  p: Pad;
}> = [
  { x: [2, 7, 7, 6], f: [4, 4, 3, 6], out: [2, 14, 14, 3], s: 2, p: 1 }, // UpConv (phase path)
  { x: [2, 1, 1, 6], f: [7, 7, 4, 6], out: [2, 7, 7, 4], s: 7, p: 'valid' }, // Unflatten (matmul path)
  { x: [1, 5, 5, 2], f: [3, 3, 2, 2], out: [1, 9, 9, 2], s: 2, p: 1 }, // odd output: zero-insertion path
  { x: [2, 6, 6, 3], f: [3, 3, 4, 3], out: [2, 6, 6, 4], s: 1, p: 'same' },
];

for (const c of transposeCases) {
  test(`conv2dTranspose forward and gradients match cpu: x ${c.x.join('×')} → ${c.out.join('×')}, stride ${c.s}, pad ${c.p}`, async () => {
    await initTf('wasm');
    const run = () =>
      tf.tidy(() => {
        const x = tf.randomNormal(c.x, 0, 1, 'float32', 4) as tf.Tensor4D;
        const f = tf.randomNormal(c.f, 0, 1, 'float32', 5) as tf.Tensor4D;
        const y = tf.conv2dTranspose(x, f, c.out, c.s, c.p as 'same');
        const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 6);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, c.out, c.s, c.p as 'same'), dy)),
        )([x, f]);
        return [y, dx!, dw!];
      });
    const ref = await onBackend('cpu', async () => Promise.all(run().map((t) => t.data() as Promise<Float32Array>)));
    const got = await onBackend('wasm', async () => Promise.all(run().map((t) => t.data() as Promise<Float32Array>)));
    ['y', 'dx', 'dW'].forEach((name, i) => {
      const d = maxAbsDiff(ref[i]!, got[i]!);
      assert.ok(d < 1e-3, `${name} differs by ${d}`);
    });
  });
}

test('project kernels leak nothing beyond what tfjs itself keeps on the cpu backend', async () => {
  await initTf('wasm');
  // Intermediates of a kernel are backend buffers, not tensors: count the backend's data ids.
  const dataIds = (): number => tf.engine().backend.numDataIds();
  const growth = async (backend: string): Promise<[number, number]> => {
    await tf.setBackend(backend);
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const f = tf.randomNormal([4, 4, 2, 3]) as tf.Tensor4D;
    const step = () =>
      tf.tidy(() =>
        tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, 16, 16, 2], 2, 1)),
        )([x, f]),
      );
    step(); // warm-up: tfjs caches a few scalars on first use
    const t0 = tf.memory().numTensors;
    const b0 = dataIds();
    for (let i = 0; i < 5; i++) step();
    const out: [number, number] = [tf.memory().numTensors - t0, dataIds() - b0];
    x.dispose();
    f.dispose();
    return out;
  };
  const cpu = await growth('cpu');
  const wasm = await growth('wasm');
  assert.deepEqual(
    wasm,
    cpu,
    `wasm grew by ${wasm.join(' tensors / ')} buffers, cpu by ${cpu.join(' tensors / ')} buffers`,
  );
});

test('wasm Identity and same-dtype Cast share the buffer safely; other casts still convert', async () => {
  await initTf('wasm');
  await tf.setBackend('wasm');
  const backend = tf.engine().backend;
  const before = backend.numDataIds();
  const x = tf.tensor([1.5, -2.7, 3.2, 0], [2, 2]);
  const y = x.clone();
  const z = tf.cast(x, 'float32');
  assert.equal(backend.numDataIds(), before + 1, 'clone and same-dtype cast allocate no buffer');
  x.dispose();
  assert.deepEqual(Array.from(await y.data()), [1.5, -2.7, 3.2, 0].map(Math.fround));
  y.dispose();
  assert.deepEqual(Array.from(await z.data()), [1.5, -2.7, 3.2, 0].map(Math.fround));
  const i = tf.cast(z, 'int32');
  assert.equal(i.dtype, 'int32');
  assert.deepEqual(Array.from(await i.data()), [1, -2, 3, 0]);
  const back = tf.cast(i, 'float32');
  assert.deepEqual(Array.from(await back.data()), [1, -2, 3, 0]);
  [z, i, back].forEach((t) => {
    t.dispose();
  });
  assert.equal(backend.numDataIds(), before, 'every shared buffer freed once its last tensor went');
});
