// The variety figures of the quality bench: the Jacobi eigendecomposition and matrix square root,
// the Fréchet distance against closed forms (identical sets give 0; Gaussians whose distance is known
// exactly), the within-set spread and k-NN precision / recall.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  frechetDistance,
  frechetOfGaussians,
  meanPairwiseDistance,
  precisionRecall,
  rowsWhere,
  spreadRows,
  sqrtPsd,
  symmetricEigen,
} from '../../../src/engine/flow/frechet.js';
import { Rng } from '../../../src/engine/random.js';

function randomSymmetric(D: number, seed: number): Float64Array {
  const r = new Rng(seed).normals(D * D);
  const a = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) a[i * D + j] = (r[i * D + j]! + r[j * D + i]!) / 2;
  return a;
}

/** B Bᵀ + εI: symmetric positive definite. */
function randomSpd(D: number, seed: number): Float64Array {
  const b = new Rng(seed).normals(D * D);
  const a = new Float64Array(D * D);
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) {
      let s = 0;
      for (let k = 0; k < D; k++) s += b[i * D + k]! * b[j * D + k]!;
      a[i * D + j] = s / D + (i === j ? 0.1 : 0);
    }
  return a;
}

function matmul(a: ArrayLike<number>, b: ArrayLike<number>, D: number): Float64Array {
  const out = new Float64Array(D * D);
  for (let i = 0; i < D; i++)
    for (let j = 0; j < D; j++) for (let k = 0; k < D; k++) out[i * D + j]! += a[i * D + k]! * b[k * D + j]!;
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('symmetricEigen: known eigenvalues, and A = V diag(λ) Vᵀ with V orthonormal', () => {
  const { values } = symmetricEigen([2, 1, 1, 2], 2);
  assert.deepEqual(
    [...values].sort().map((v) => Math.round(v * 1e12) / 1e12),
    [1, 3],
  );
  const D = 12;
  const a = randomSymmetric(D, 3);
  const { values: l, vectors: v } = symmetricEigen(a, D);
  const vl = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let k = 0; k < D; k++) vl[i * D + k] = v[i * D + k]! * l[k]!;
  const vt = new Float64Array(D * D);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) vt[i * D + j] = v[j * D + i]!;
  assert.ok(maxAbsDiff(matmul(vl, vt, D), a) < 1e-10, 'reconstructs A');
  const identity = Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0));
  assert.ok(maxAbsDiff(matmul(vt, v, D), identity) < 1e-10, 'VᵀV = I');
  assert.throws(() => symmetricEigen([1, 2, 3, 4], 2), /not symmetric at \(0, 1\)/);
  assert.throws(() => symmetricEigen([1, 2, 3], 2), /2 × 2 matrix has 4 entries, got 3/);
});

test('sqrtPsd: the square root squares back to the matrix', () => {
  const D = 10;
  const a = randomSpd(D, 4);
  const s = sqrtPsd(a, D);
  assert.ok(maxAbsDiff(matmul(s, s, D), a) < 1e-10);
});

test('frechetOfGaussians: the closed forms, for commuting and for non-commuting 2 × 2 covariances', () => {
  // Diagonal: |Δμ|² + Σ (σ1 − σ2)².
  const diag = frechetOfGaussians(
    { mean: Float64Array.of(0, 0, 0), cov: Float64Array.of(1, 0, 0, 0, 4, 0, 0, 0, 9) },
    { mean: Float64Array.of(1, 2, 0), cov: Float64Array.of(4, 0, 0, 0, 4, 0, 0, 0, 1) },
  );
  assert.ok(Math.abs(diag - (1 + 4 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2)) < 1e-10, `diagonal: ${diag}`);
  // 2 × 2: tr √M = √(tr M + 2 √det M), with M = Σ1 Σ2 (its eigenvalues are those of Σ1^½ Σ2 Σ1^½).
  const s1 = Float64Array.of(2, 0.7, 0.7, 1);
  const s2 = Float64Array.of(1, -0.4, -0.4, 3);
  const m = matmul(s1, s2, 2);
  const det = (x: Float64Array) => x[0]! * x[3]! - x[1]! * x[2]!;
  const trSqrt = Math.sqrt(m[0]! + m[3]! + 2 * Math.sqrt(det(s1) * det(s2)));
  const expected = 0.5 ** 2 + (2 + 1 + 1 + 3) - 2 * trSqrt;
  const got = frechetOfGaussians({ mean: Float64Array.of(0.5, 0), cov: s1 }, { mean: Float64Array.of(0, 0), cov: s2 });
  assert.ok(Math.abs(got - expected) < 1e-10, `${got} against ${expected}`);
  assert.ok(
    frechetOfGaussians({ mean: Float64Array.of(1, 2), cov: s1 }, { mean: Float64Array.of(1, 2), cov: s1 }) < 1e-10,
    'the same Gaussian: 0',
  );
  assert.throws(
    () =>
      frechetOfGaussians(
        { mean: Float64Array.of(0), cov: Float64Array.of(1) },
        { mean: Float64Array.of(0, 0), cov: s2 },
      ),
    /same dimension/,
  );
});

test("frechetDistance of feature sets: 0 for identical sets, the Gaussians' distance for large samples", () => {
  const D = 4;
  const n = 20000;
  const z = new Rng(7).normals(2 * n * D);
  const a = new Float64Array(n * D);
  const b = new Float64Array(n * D);
  const shift = [1, 0, -1, 0.5];
  for (let r = 0; r < n; r++)
    for (let i = 0; i < D; i++) {
      a[r * D + i] = z[r * D + i]!; // N(0, I)
      b[r * D + i] = shift[i]! + 2 * z[(n + r) * D + i]!; // N(shift, 4 I)
    }
  assert.ok(frechetDistance({ data: a, dim: D }, { data: a, dim: D }) < 1e-9);
  const expected = 1 + 0 + 1 + 0.25 + D * (2 - 1) ** 2;
  const got = frechetDistance({ data: a, dim: D }, { data: b, dim: D });
  assert.ok(Math.abs(got - expected) < 0.1, `${got} against ${expected}`);
  assert.throws(() => frechetDistance({ data: a, dim: D }, { data: a, dim: 3 }), /4 and 3 values per row/);
  assert.throws(
    () => frechetDistance({ data: a.subarray(0, 4), dim: D }, { data: a, dim: D }),
    /at least 2 feature vectors, got 1/,
  );
});

test('meanPairwiseDistance and rowsWhere: the spread within a group', () => {
  const set = { data: Float64Array.of(0, 0, 3, 0, 0, 4, 9, 9), dim: 2 };
  const group = rowsWhere(set, [1, 1, 1, 2], 1);
  assert.equal(meanPairwiseDistance(group), (3 + 4 + 5) / 3);
  assert.ok(Number.isNaN(meanPairwiseDistance(rowsWhere(set, [1, 1, 1, 2], 2))), 'one row has no pairs');
  assert.throws(() => rowsWhere(set, [1, 2], 1), /2 keys for 4 feature vectors/);
});

test('precisionRecall: the same set covers itself; a dropped mode costs recall, not precision; far samples cost both', () => {
  const D = 2;
  const n = 400;
  const z = new Rng(11).normals(4 * n * D);
  // Real data: two clusters, at x = −5 and x = +5.
  const real = new Float64Array(n * D);
  for (let r = 0; r < n; r++) {
    real[r * D] = (r % 2 === 0 ? -5 : 5) + z[r * D]!;
    real[r * D + 1] = z[r * D + 1]!;
  }
  const same = precisionRecall({ data: real, dim: D }, { data: real, dim: D });
  assert.deepEqual(same, { precision: 1, recall: 1 });
  // Samples from one cluster only.
  const oneMode = new Float64Array(n * D);
  for (let r = 0; r < n; r++) {
    oneMode[r * D] = 5 + z[(n + r) * D]!;
    oneMode[r * D + 1] = z[(n + r) * D + 1]!;
  }
  const dropped = precisionRecall({ data: oneMode, dim: D }, { data: real, dim: D });
  assert.ok(dropped.precision > 0.9, `precision ${dropped.precision}`);
  assert.ok(Math.abs(dropped.recall - 0.5) < 0.1, `recall ${dropped.recall}`);
  const far = oneMode.map((v, i) => (i % D === 1 ? v + 50 : v));
  assert.deepEqual(precisionRecall({ data: far, dim: D }, { data: real, dim: D }), { precision: 0, recall: 0 });
});

test('spreadRows takes rows evenly over a sorted set, so a subset keeps every class', () => {
  const set = { data: Float64Array.from({ length: 10 }, (_, i) => Math.floor(i / 2)), dim: 1 }; // 0 0 1 1 2 2 3 3 4 4
  assert.deepEqual(spreadRows(set, 5).rows, [0, 2, 4, 6, 8]);
  assert.deepEqual([...spreadRows(set, 5, 1).set.data], [0, 1, 2, 3, 4]);
  assert.throws(() => spreadRows(set, 11), /cannot take 11 rows of a set of 10/);
});
