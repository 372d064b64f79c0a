// Reads the official MNIST IDX files (yann.lecun.com layout, gzipped or not) into a Dataset, so
// a user with the 60,000 training digits can train on them instead of the bundled 10,000.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DIGIT_PIXELS, DIGIT_SIDE, type Dataset } from './dataset.js';

/** Magic number of an IDX file of unsigned bytes with 3 dimensions (N×28×28 images). */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of an IDX file of unsigned bytes with 1 dimension (N labels). */
export const IDX_LABELS_MAGIC = 0x00000801;

/** IDX element type codes; MNIST uses only unsigned bytes, so that is all we decode. */
const IDX_DTYPES: Record<number, string> = {
  8: 'unsigned byte',
  9: 'signed byte',
  11: 'int16',
  12: 'int32',
  13: 'float32',
  14: 'float64',
};
const IDX_UBYTE = 0x08;

/** Decompressed IDX files larger than this are refused (the 60k training images are 47 MB). */
const MAX_UNZIPPED_BYTES = 512 * 1024 * 1024;

export class IdxFormatError extends Error {
  override name = 'IdxFormatError';
}

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function hex32(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Parses one IDX file of unsigned bytes. Gzipped input (magic 1f 8b) is inflated first, so the
 * `.gz` files can be used as downloaded.
 *
 * @param name   the file's name or path, used in error messages
 * @param expectedMagic  when given, the file must have exactly this magic number
 * @example parseIdx(readFileSync('t10k-labels-idx1-ubyte.gz'), 't10k-labels-idx1-ubyte.gz')
 */
export function parseIdx(buf: Buffer, opts: { name?: string; expectedMagic?: number } = {}): IdxArray {
  const name = opts.name ?? 'IDX data';
  const expected =
    opts.expectedMagic !== undefined
      ? hex32(opts.expectedMagic)
      : `${hex32(IDX_IMAGES_MAGIC)} (images) or ${hex32(IDX_LABELS_MAGIC)} (labels)`;
  let raw: Buffer = buf;
  if (isGzip(buf)) {
    try {
      raw = gunzipSync(buf, { maxOutputLength: MAX_UNZIPPED_BYTES });
    } catch (err) {
      throw new IdxFormatError(
        `${name}: starts like a gzip file but does not inflate (${(err as Error).message}); ` +
          'download it again or gunzip it by hand to check',
      );
    }
  }
  if (raw.length < 4) {
    throw new IdxFormatError(`${name}: ${raw.length} bytes is too short for an IDX header; expected magic ${expected}`);
  }
  const magic = raw.readUInt32BE(0);
  const dtype = raw[2]!;
  const ndims = raw[3]!;
  if (raw[0] !== 0 || raw[1] !== 0 || ndims === 0 || !(dtype in IDX_DTYPES)) {
    throw new IdxFormatError(`${name}: magic number ${hex32(magic)} is not an IDX header; expected ${expected}`);
  }
  if (dtype !== IDX_UBYTE) {
    throw new IdxFormatError(
      `${name}: IDX element type ${IDX_DTYPES[dtype]} (0x${dtype.toString(16).padStart(2, '0')}) is not supported; ` +
        'only unsigned byte (0x08) files, as MNIST ships, can be read',
    );
  }
  if (opts.expectedMagic !== undefined && magic !== opts.expectedMagic) {
    throw new IdxFormatError(`${name}: magic number ${hex32(magic)} (${ndims} dimensions); expected ${expected}`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (raw.length < headerBytes) {
    throw new IdxFormatError(
      `${name}: truncated header: ${ndims} dimensions need ${headerBytes} bytes, the file has ${raw.length}`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(raw.readUInt32BE(4 + 4 * i));
  const dataBytes = dims.reduce((a, b) => a * b, 1);
  const actual = raw.length - headerBytes;
  if (actual < dataBytes) {
    throw new IdxFormatError(
      `${name}: truncated: header declares ${dims.join('×')} = ${dataBytes} data bytes, the file has ${actual}`,
    );
  }
  if (actual > dataBytes) {
    throw new IdxFormatError(
      `${name}: header declares ${dims.join('×')} = ${dataBytes} data bytes but the file has ${actual}; ` +
        'it may be a different file with a similar header',
    );
  }
  // Copy out of the (possibly pooled) Buffer so the result owns exactly its bytes.
  const data = new Uint8Array(raw.subarray(headerBytes));
  return { dims, data };
}

export type IdxSplit = 'train' | 'test';

/** File names tried for one IDX file, in order: both common spellings, gzipped or not. */
function candidateNames(split: IdxSplit, kind: 'images' | 'labels'): string[] {
  const prefix = split === 'train' ? 'train' : 't10k';
  const ndim = kind === 'images' ? 3 : 1;
  const bases = [`${prefix}-${kind}-idx${ndim}-ubyte`, `${prefix}-${kind}.idx${ndim}-ubyte`];
  return bases.flatMap((b) => [b, `${b}.gz`]);
}

function findFile(dir: string, names: string[]): string | undefined {
  return names.map((n) => join(dir, n)).find((p) => existsSync(p));
}

/**
 * Loads an MNIST split from the IDX files in `dir` (train-* or t10k-*), checking that the
 * images are N×28×28, labels are 0–9 and the counts agree. Pixels become [0, 1] floats.
 * Synchronous on purpose: it runs once at training start, inside the engine's worker thread.
 */
export function loadIdxDataset(dir: string, split: IdxSplit): Dataset {
  if (split !== 'train' && split !== 'test') {
    throw new RangeError(`MNIST split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  }
  const imageNames = candidateNames(split, 'images');
  const labelNames = candidateNames(split, 'labels');
  const imagesPath = findFile(dir, imageNames);
  const labelsPath = findFile(dir, labelNames);
  if (!imagesPath || !labelsPath) {
    const missing = [!imagesPath ? imageNames : [], !labelsPath ? labelNames : []].flat();
    throw new Error(
      `MNIST ${split} split not found in ${dir}: looked for ${missing.join(', ')}. ` +
        'Download the IDX files from the MNIST site (gzipped is fine) into that folder',
    );
  }

  const images = parseIdx(readFileSync(imagesPath), { name: imagesPath, expectedMagic: IDX_IMAGES_MAGIC });
  const [count = 0, rows, cols] = images.dims;
  if (rows !== DIGIT_SIDE || cols !== DIGIT_SIDE) {
    throw new IdxFormatError(
      `${imagesPath}: images are ${rows}×${cols}; MNIST digits must be ${DIGIT_SIDE}×${DIGIT_SIDE}`,
    );
  }
  const labels = parseIdx(readFileSync(labelsPath), { name: labelsPath, expectedMagic: IDX_LABELS_MAGIC });
  const labelCount = labels.dims[0]!;
  if (labelCount !== count) {
    throw new IdxFormatError(`${imagesPath} has ${count} images but ${labelsPath} has ${labelCount} labels`);
  }
  const bad = labels.data.findIndex((l) => l > 9);
  if (bad >= 0) {
    throw new IdxFormatError(`${labelsPath}: label ${bad} is ${labels.data[bad]}; MNIST labels must be 0–9`);
  }

  const pixels = new Float32Array(count * DIGIT_PIXELS);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i]! / 255;
  return {
    images: pixels,
    labels: labels.data,
    count,
    source: `MNIST IDX ${split}: ${imagesPath}, ${labelsPath}`,
  };
}
