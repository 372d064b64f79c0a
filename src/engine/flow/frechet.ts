// Variety figures for sets of feature vectors (the digit judge's penultimate layer, see judge.ts):
// the Fréchet distance between the Gaussians fitted to two sets (as FID, Heusel et al. 2017, in a
// small judge's feature space), the mean pairwise distance within a set (its spread), and k-NN
// precision and recall (Kynkäänniemi et al. 2019). No linear-algebra package is installed, and the
// matrices are small (64 × 64), so the symmetric eigendecomposition is a cyclic Jacobi sweep.

/** N feature vectors of D values each, row after row. */
export interface FeatureSet {
  data: Float64Array | Float32Array;
  dim: number;
}

export function rowsOf(set: FeatureSet): number {
  const n = set.data.length / set.dim;
  if (!Number.isInteger(n) || set.dim < 1)
    throw new Error(`a feature set of ${set.data.length} values does not split into rows of ${set.dim}`);
  return n;
}

/** The mean and the (unbiased, n − 1) covariance of the rows, D and D × D (row-major). */
export function gaussianStats(set: FeatureSet): { mean: Float64Array; cov: Float64Array } {
  const n = rowsOf(set);
  const D = set.dim;
  if (n < 2) throw new Error(`a covariance needs at least 2 feature vectors, got ${n}`);
  const mean = new Float64Array(D);
  for (let r = 0; r < n; r++) for (let i = 0; i < D; i++) mean[i]! += set.data[r * D + i]!;
  for (let i = 0; i < D; i++) mean[i]! /= n;
  const cov = new Float64Array(D * D);
  const c = new Float64Array(D);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < D; i++) c[i] = set.data[r * D + i]! - mean[i]!;
    for (let i = 0; i < D; i++) {
      const ci = c[i]!;
      if (ci === 0) continue;
      for (let j = i; j < D; j++) cov[i * D + j]! += ci * c[j]!;
    }
  }
  for (let i = 0; i < D; i++) {
    for (let j = i; j < D; j++) {
      const v = cov[i * D + j]! / (n - 1);
      cov[i * D + j] = v;
      cov[j * D + i] = v;
    }
  }
  return { mean, cov };
}

/**
 * Eigenvalues and eigenvectors of a symmetric D × D matrix (row-major), by cyclic Jacobi rotations:
 * A = V diag(values) Vᵀ, the eigenvectors in the columns of V. Converges quadratically; a few sweeps
 * bring the off-diagonal to rounding level.
 */
export function symmetricEigen(matrix: ArrayLike<number>, D: number): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== D * D) throw new Error(`a ${D} × ${D} matrix has ${D * D} entries, got ${matrix.length}`);
  const a = Float64Array.from(matrix);
  for (let i = 0; i < D; i++) {
    for (let j = i + 1; j < D; j++) {
      const x = a[i * D + j]!;
      const y = a[j * D + i]!;
      if (Math.abs(x - y) > 1e-9 * (1 + Math.abs(x) + Math.abs(y)))
        throw new Error(`the matrix is not symmetric at (${i}, ${j}): ${x} against ${y}`);
    }
  }
  const v = new Float64Array(D * D);
  for (let i = 0; i < D; i++) v[i * D + i] = 1;
  let scale = 0;
  for (let i = 0; i < D * D; i++) scale += a[i]! * a[i]!;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < D; p++) for (let q = p + 1; q < D; q++) off += a[p * D + q]! ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < D; p++) {
      for (let q = p + 1; q < D; q++) {
        const apq = a[p * D + q]!;
        if (apq === 0) continue;
        // The rotation that zeroes a[p][q] (Golub & Van Loan, 8.5.2), the smaller angle.
        const theta = (a[q * D + q]! - a[p * D + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cs = 1 / Math.sqrt(t * t + 1);
        const sn = t * cs;
        for (let k = 0; k < D; k++) {
          // Columns p and q of A·J.
          const akp = a[k * D + p]!;
          const akq = a[k * D + q]!;
          a[k * D + p] = cs * akp - sn * akq;
          a[k * D + q] = sn * akp + cs * akq;
        }
        for (let k = 0; k < D; k++) {
          // Rows p and q of Jᵀ·(A·J).
          const apk = a[p * D + k]!;
          const aqk = a[q * D + k]!;
          a[p * D + k] = cs * apk - sn * aqk;
          a[q * D + k] = sn * apk + cs * aqk;
        }
        for (let k = 0; k < D; k++) {
          const vkp = v[k * D + p]!;
          const vkq = v[k * D + q]!;
          v[k * D + p] = cs * vkp - sn * vkq;
          v[k * D + q] = sn * vkp + cs * vkq;
        }
      }
    }
  }
  const values = new Float64Array(D);
  for (let i = 0; i < D; i++) values[i] = a[i * D + i]!;
  return { values, vectors: v };
}

/** √S of a symmetric positive semi-definite matrix (negative rounding-level eigenvalues taken as 0). */
export function sqrtPsd(matrix: ArrayLike<number>, D: number): Float64Array {
  const { values, vectors } = symmetricEigen(matrix, D);
  const out = new Float64Array(D * D);
  for (let k = 0; k < D; k++) {
    const s = Math.sqrt(Math.max(0, values[k]!));
    if (s === 0) continue;
    for (let i = 0; i < D; i++) {
      const vik = vectors[i * D + k]! * s;
      for (let j = 0; j < D; j++) out[i * D + j]! += vik * vectors[j * D + k]!;
    }
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, D: number): Float64Array {
  const out = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let k = 0; k < D; k++) {
      const aik = a[i * D + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < D; j++) out[i * D + j]! += aik * b[k * D + j]!;
    }
  }
  return out;
}

/**
 * The Fréchet (2-Wasserstein) distance between N(μ1, Σ1) and N(μ2, Σ2):
 * |μ1 − μ2|² + tr Σ1 + tr Σ2 − 2 tr (Σ1^½ Σ2 Σ1^½)^½. The last matrix is symmetric, so its square
 * root's trace is the sum of the square roots of its eigenvalues (the same as tr (Σ1 Σ2)^½).
 */
export function frechetOfGaussians(
  a: { mean: Float64Array; cov: Float64Array },
  b: { mean: Float64Array; cov: Float64Array },
): number {
  const D = a.mean.length;
  if (b.mean.length !== D || a.cov.length !== D * D || b.cov.length !== D * D)
    throw new Error(`the two Gaussians must have the same dimension (${D} and ${b.mean.length})`);
  let d2 = 0;
  for (let i = 0; i < D; i++) d2 += (a.mean[i]! - b.mean[i]!) ** 2;
  let tr = 0;
  for (let i = 0; i < D; i++) tr += a.cov[i * D + i]! + b.cov[i * D + i]!;
  const s = sqrtPsd(a.cov, D);
  const m = matmul(matmul(s, b.cov, D), s, D);
  for (let i = 0; i < D; i++) {
    for (let j = i + 1; j < D; j++) {
      const avg = (m[i * D + j]! + m[j * D + i]!) / 2; // symmetric up to rounding
      m[i * D + j] = avg;
      m[j * D + i] = avg;
    }
  }
  const { values } = symmetricEigen(m, D);
  let cross = 0;
  for (const l of values) cross += Math.sqrt(Math.max(0, l));
  return Math.max(0, d2 + tr - 2 * cross);
}

/** The Fréchet distance between the Gaussians fitted to two feature sets. */
export function frechetDistance(a: FeatureSet, b: FeatureSet): number {
  if (a.dim !== b.dim) throw new Error(`feature sets of ${a.dim} and ${b.dim} values per row cannot be compared`);
  return frechetOfGaussians(gaussianStats(a), gaussianStats(b));
}

function dist(a: FeatureSet, i: number, b: FeatureSet, j: number): number {
  const D = a.dim;
  let s = 0;
  for (let k = 0; k < D; k++) s += (a.data[i * D + k]! - b.data[j * D + k]!) ** 2;
  return Math.sqrt(s);
}

/** The mean Euclidean distance between two different rows of the set (how spread out it is); NaN under 2 rows. */
export function meanPairwiseDistance(set: FeatureSet): number {
  const n = rowsOf(set);
  if (n < 2) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) sum += dist(set, i, set, j);
  return sum / ((n * (n - 1)) / 2);
}

/** The rows of `set` whose `keys` entry is `key`. */
export function rowsWhere(set: FeatureSet, keys: ArrayLike<number>, key: number): FeatureSet {
  const n = rowsOf(set);
  if (keys.length !== n) throw new Error(`${keys.length} keys for ${n} feature vectors`);
  const picked: number[] = [];
  for (let i = 0; i < n; i++) if (keys[i] === key) picked.push(i);
  const data = new Float64Array(picked.length * set.dim);
  picked.forEach((r, k) => {
    data.set(set.data.subarray(r * set.dim, (r + 1) * set.dim), k * set.dim);
  });
  return { data, dim: set.dim };
}

/** Each row's distance to its k-th nearest other row of the same set (the radius of its k-NN ball). */
function kthNeighbourRadii(set: FeatureSet, k: number): Float64Array {
  const n = rowsOf(set);
  if (n <= k) throw new Error(`k-NN radii with k = ${k} need more than ${k} feature vectors, got ${n}`);
  const radii = new Float64Array(n);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) d[j] = dist(set, i, set, j);
    // Sorted ascending, d[0] is the row itself (0).
    radii[i] = Float64Array.from(d).sort()[k]!;
  }
  return radii;
}

/** Share of the rows of `probe` inside the union of the k-NN balls of `support`'s rows. */
function coverage(probe: FeatureSet, support: FeatureSet, radii: Float64Array): number {
  const n = rowsOf(probe);
  const m = rowsOf(support);
  let inside = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      if (dist(probe, i, support, j) <= radii[j]!) {
        inside++;
        break;
      }
    }
  }
  return inside / Math.max(1, n);
}

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019): precision is the share of samples that
 * fall inside the real manifold (the union of each real vector's k-NN ball), recall the share of
 * real vectors inside the samples' manifold. Low precision: unrealistic samples; low recall: samples
 * that cover only part of the real variety. Compare sets of equal size: the balls shrink as a set grows.
 */
export function precisionRecall(samples: FeatureSet, real: FeatureSet, k = 3): { precision: number; recall: number } {
  if (samples.dim !== real.dim)
    throw new Error(`feature sets of ${samples.dim} and ${real.dim} values per row cannot be compared`);
  return {
    precision: coverage(samples, real, kthNeighbourRadii(real, k)),
    recall: coverage(real, samples, kthNeighbourRadii(samples, k)),
  };
}

/**
 * n rows spread evenly over the set (rows ⌊k·N/n⌋ + offset), for a subset that keeps the set's
 * mixture when its rows are sorted (the embedded MNIST digits come class by class).
 */
export function spreadRows(set: FeatureSet, n: number, offset = 0): { set: FeatureSet; rows: number[] } {
  const N = rowsOf(set);
  if (n > N) throw new Error(`cannot take ${n} rows of a set of ${N}`);
  const rows = Array.from({ length: n }, (_, k) => Math.min(N - 1, Math.floor((k * N) / n) + offset));
  const data = new Float64Array(n * set.dim);
  rows.forEach((r, k) => {
    data.set(set.data.subarray(r * set.dim, (r + 1) * set.dim), k * set.dim);
  });
  return { set: { data, dim: set.dim }, rows };
}
