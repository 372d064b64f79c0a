// The Part B benchmark's side-by-side table: each of our figures beside the PyTorch reference's from
// the same run, as "how many times faster", against the issue's targets. Pure, so it is tested.

export interface Comparison {
  job: string;
  unit: 'images/s' | 's';
  ours: number;
  /** The reference's figure from the same run; absent when PyTorch is missing or has no such job. */
  reference?: number | undefined;
  /** A target on the ratio (≥ ×), on our figure (< s), or both. */
  target?: { ratio?: number; below?: number };
}

/** How many times faster we are: ours/reference for a rate, reference/ours for a time. */
export function speedup(c: Comparison): number | undefined {
  if (c.reference === undefined || !(c.reference > 0) || !(c.ours > 0)) return undefined;
  return c.unit === 's' ? c.reference / c.ours : c.ours / c.reference;
}

function figure(v: number, unit: Comparison['unit']): string {
  return unit === 's' ? `${v.toFixed(2)} s` : `${v.toFixed(1)} images/s`;
}

function verdict(c: Comparison, ratio: number | undefined): string {
  const parts: string[] = [];
  if (c.target?.ratio !== undefined) {
    parts.push(
      `≥ ${c.target.ratio}×: ${ratio === undefined ? 'no reference' : ratio >= c.target.ratio ? 'met' : 'not met'}`,
    );
  }
  if (c.target?.below !== undefined)
    parts.push(`< ${c.target.below} s: ${c.ours < c.target.below ? 'met' : 'not met'}`);
  return parts.join('; ') || '—';
}

/** A markdown table (the README's form), with the machine and the reference's state above it. */
export function formatComparison(rows: readonly Comparison[], machine: string, reference: string): string {
  const lines = [
    `  machine: ${machine}`,
    `  reference: ${reference}`,
    '',
    '| job | PyTorch | Illusionist | ratio | target |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const c of rows) {
    const ratio = speedup(c);
    lines.push(
      `| ${c.job} | ${c.reference === undefined ? '—' : figure(c.reference, c.unit)} | ${figure(c.ours, c.unit)} | ${ratio === undefined ? '—' : `${ratio.toFixed(2)}×`} | ${verdict(c, ratio)} |`,
    );
  }
  return lines.join('\n');
}

/** The largest difference between two velocity fields, and the largest |u|, to judge it by. */
export function compareVelocities(ours: Float32Array, theirs: Float32Array): { maxAbsDiff: number; maxAbs: number } {
  if (ours.length !== theirs.length)
    throw new Error(`velocities of ${ours.length} and ${theirs.length} values cannot be compared`);
  let maxAbsDiff = 0;
  let maxAbs = 0;
  for (let i = 0; i < ours.length; i++) {
    maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ours[i]! - theirs[i]!));
    maxAbs = Math.max(maxAbs, Math.abs(ours[i]!));
  }
  return { maxAbsDiff, maxAbs };
}

/** Two samplings of the same noise, as pixels in [0, 1] (model range [−1, 1], clamped): mean and max |Δ|. */
export function sampleAgreement(ours: Float32Array, theirs: Float32Array): { meanAbsDiff: number; maxAbsDiff: number } {
  if (ours.length !== theirs.length)
    throw new Error(`samples of ${ours.length} and ${theirs.length} values cannot be compared`);
  const px = (v: number): number => (Math.min(1, Math.max(-1, v)) + 1) / 2;
  let sum = 0;
  let max = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(px(ours[i]!) - px(theirs[i]!));
    sum += d;
    max = Math.max(max, d);
  }
  return { meanAbsDiff: sum / ours.length, maxAbsDiff: max };
}
