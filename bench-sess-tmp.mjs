// Session-option study: create time and run time (batch B) per option set, interleaved rounds, medians.
import ort from 'onnxruntime-node';
import { loadCheckpoint } from './dist/src/engine/flow/trainer.js';
import { exportUNetToOnnx } from './dist/src/engine/flow/onnx-export.js';
const ck = loadCheckpoint(process.argv[2] ?? 'models/mnist-class/model.safetensors');
const bytes = exportUNetToOnnx(ck.spec, ck.servingWeights);
const B = +(process.argv[3] ?? 80);
const base = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } };
const sets = {
  current: {},
  'opt-disabled': { graphOptimizationLevel: 'disabled' },
  'opt-basic': { graphOptimizationLevel: 'basic' },
  'opt-extended': { graphOptimizationLevel: 'extended' },
  'threads-1': { intraOpNumThreads: 1 },
  'threads-2': { intraOpNumThreads: 2 },
  'no-arena': { enableCpuMemArena: false },
  'no-mempattern': { enableMemPattern: false },
  parallel: { executionMode: 'parallel' },
  spinning: { extra: {} },
};
const only = process.env.SETS ? process.env.SETS.split(',') : Object.keys(sets);
const feeds = () => {
  const f = { x: new ort.Tensor('float32', new Float32Array(B * 784).map(() => Math.random()), [B, 1, 28, 28]) };
  if (ck.spec.kind !== 'denoiser') f.t = new ort.Tensor('float32', new Float32Array(B).fill(0.5), [B, 1]);
  if (ck.spec.kind === 'class') f.c = new ort.Tensor('float32', new Float32Array(B * 10), [B, 10]);
  return f;
};
const res = Object.fromEntries(only.map((k) => [k, { create: [], run: [], cpu: [] }]));
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const rounds = +(process.env.ROUNDS ?? 3); const runs = +(process.env.RUNS ?? 10);
for (let r = 0; r < rounds; r++) for (const k of only) {
  let t = performance.now();
  const s = await ort.InferenceSession.create(bytes, { ...base, ...sets[k] });
  res[k].create.push(performance.now() - t);
  const f = feeds(); await s.run(f); await s.run(f);
  const times = []; const cpus = [];
  for (let i = 0; i < runs; i++) { const c = process.cpuUsage(); t = performance.now(); await s.run(f); times.push(performance.now() - t); const d = process.cpuUsage(c); cpus.push((d.user + d.system) / 1000); }
  res[k].run.push(med(times)); res[k].cpu.push(med(cpus));
  await s.release();
}
for (const k of only) console.log(k.padEnd(14), 'create', med(res[k].create).toFixed(0).padStart(5), 'ms  run B=' + B, med(res[k].run).toFixed(1).padStart(7), 'ms', ' cpu', med(res[k].cpu).toFixed(1).padStart(7), 'ms  runs:', res[k].run.map((x) => x.toFixed(0)).join(' '));
