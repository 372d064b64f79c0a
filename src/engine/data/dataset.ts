// A labelled set of 28×28 grayscale digits, the unit the trainers consume.
// Pixels are white-on-black in [0, 1], row-major, one image after another.

export interface Dataset { images: Float32Array /* count×784, [0,1] */; labels: Uint8Array; count: number; source: string }
