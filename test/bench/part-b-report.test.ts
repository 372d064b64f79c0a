// The Part B benchmark's machine description, its side-by-side table, and the "PyTorch missing" path.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cpuExtensions, describeMachine, formatMachine } from '../../bench/machine.js';
import { compareVelocities, formatComparison, sampleAgreement, speedup } from '../../bench/part-b-report.js';
import { findTorchPython, referenceCandidates, timedRun } from '../../bench/reference.js';

const cpu = (flags: string, n: number): string =>
  Array.from(
    { length: n },
    (_, i) =>
      `processor\t: ${i}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: ${flags}\n`,
  ).join('\n');

test('a Sapphire Rapids cpuinfo lists AVX2, AVX-512, AVX512-BF16 and AMX', () => {
  const text = cpu('fpu sse2 avx fma avx2 avx512f avx512dq avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8', 2);
  assert.deepEqual(cpuExtensions(text), {
    present: ['AVX2', 'FMA', 'AVX-512', 'AVX512-VNNI', 'AVX512-BF16', 'AMX'],
    missing: [],
  });
});

test('an AVX2-only cpuinfo names what it lacks', () => {
  const m = describeMachine(cpu('fpu sse2 avx fma avx2', 1), [
    { model: 'AMD  EPYC   7B13 ' },
    { model: 'AMD EPYC 7B13' },
  ]);
  assert.deepEqual(m, {
    model: 'AMD EPYC 7B13',
    cores: 2,
    extensions: ['AVX2', 'FMA'],
    missing: ['AVX-512', 'AVX512-VNNI', 'AVX512-BF16', 'AMX'],
  });
  assert.equal(
    formatMachine(m, 3.14),
    'AMD EPYC 7B13, 2 cores; AVX2, FMA (no AVX-512, AVX512-VNNI, AVX512-BF16, AMX); load average 3.1',
  );
});

test('an extension counts only when every processor lists it', () => {
  const text = `${cpu('avx2 avx512f', 1)}\n${cpu('avx2', 1)}`;
  assert.deepEqual(cpuExtensions(text)?.present, ['AVX2']);
});

test('without flags lines nothing is claimed', () => {
  assert.equal(cpuExtensions('processor\t: 0\nmodel name\t: something\n'), undefined);
  assert.match(formatMachine(describeMachine(undefined, [])), /^unknown CPU, 0 cores; vector extensions unknown/);
});

test('the table gives rates and times as "times faster" and judges the targets', () => {
  assert.equal(speedup({ job: 'train', unit: 'images/s', ours: 60, reference: 20 }), 3);
  assert.equal(speedup({ job: 'digits', unit: 's', ours: 2, reference: 10 }), 5);
  const table = formatComparison(
    [
      { job: 'train', unit: 'images/s', ours: 50, reference: 20, target: { ratio: 3 } },
      { job: 'digits', unit: 's', ours: 1.5, reference: 10, target: { ratio: 5, below: 2 } },
    ],
    'a machine',
    'PyTorch 1.13',
  );
  assert.match(table, /machine: a machine/);
  assert.match(table, /\| train \| 20\.0 images\/s \| 50\.0 images\/s \| 2\.50× \| ≥ 3×: not met \|/);
  assert.match(table, /\| digits \| 10\.00 s \| 1\.50 s \| 6\.67× \| ≥ 5×: met; < 2 s: met \|/);
});

test('without the reference the table has our figures alone and claims no ratio', () => {
  const table = formatComparison(
    [{ job: 'digits', unit: 's', ours: 2.5, target: { ratio: 5, below: 2 } }],
    'm',
    'PyTorch missing',
  );
  assert.match(table, /\| digits \| — \| 2\.50 s \| — \| ≥ 5×: no reference; < 2 s: not met \|/);
});

test('velocity and sample comparisons measure the largest and mean differences', () => {
  assert.deepEqual(compareVelocities(Float32Array.of(1, -3, 2), Float32Array.of(1, -2.5, 2)), {
    maxAbsDiff: 0.5,
    maxAbs: 3,
  });
  const a = sampleAgreement(Float32Array.of(-1, 1, 5), Float32Array.of(1, 1, 1)); // 5 clamps to 1
  assert.deepEqual(a, { meanAbsDiff: 1 / 3, maxAbsDiff: 1 });
  assert.throws(() => compareVelocities(new Float32Array(2), new Float32Array(3)), /2 and 3 values/);
});

test('REFERENCE_PYTHON alone is tried when set; else python3 on PATH, then /usr/bin/python3', () => {
  assert.deepEqual(referenceCandidates({ REFERENCE_PYTHON: '/opt/py/bin/python3' }), ['/opt/py/bin/python3']);
  assert.deepEqual(referenceCandidates({}), ['python3', '/usr/bin/python3']);
});

test('a python without torch, or none at all, is reported as missing with how to install it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'no-torch-'));
  try {
    // A real interpreter that cannot import torch: python3 with an empty module path and no site-packages.
    const wrapper = join(dir, 'python-no-torch');
    writeFileSync(wrapper, '#!/bin/sh\nexec python3 -I -S "$@"\n');
    chmodSync(wrapper, 0o755);
    const probe = findTorchPython([join(dir, 'absent-python'), wrapper]);
    assert.ok('missing' in probe, `expected torch to be missing, got ${JSON.stringify(probe)}`);
    assert.match(probe.missing, /absent-python: ENOENT/);
    assert.match(probe.missing, /python-no-torch: .*(ModuleNotFoundError|not found|ENOENT)/);
    assert.match(probe.missing, /apt-get install python3-torch/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('timedRun times a real child and the stderr line it waits for', async () => {
  const run = await timedRun(
    process.execPath,
    ['-e', 'process.stderr.write("noise\\nready now\\n"); setTimeout(() => console.log("done"), 50)'],
    { marker: /ready now/ },
  );
  assert.equal(run.code, 0);
  assert.equal(run.stdout.trim(), 'done');
  assert.ok(run.markerSeconds !== undefined && run.markerSeconds <= run.wallSeconds);
});
