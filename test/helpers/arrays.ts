// Comparing float arrays in tests.
import assert from 'node:assert/strict';

/** The largest |a[i] − b[i]|; the two must be the same length. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
