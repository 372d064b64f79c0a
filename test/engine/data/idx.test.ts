// Tests for the MNIST IDX reader: small hand-written IDX files (plain and gzipped) in temp dirs,
// and one corrupt file per error so each message is checked for what it tells the user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { IdxFormatError, loadIdxDataset, parseIdx } from '../../../src/engine/data/idx.js';

function idx(dtype: number, dims: number[], data: Uint8Array | number[]): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = dtype;
  header[3] = dims.length;
  dims.forEach((d, i) => {
    header.writeUInt32BE(d, 4 + 4 * i);
  });
  return Buffer.concat([header, Buffer.from(data)]);
}

/** n digits whose pixel j of image i is (i * 7 + j) mod 256, so every byte is checkable. */
function imagesIdx(n: number, side = 28): Buffer {
  const data = new Uint8Array(n * side * side).map(
    (_, k) => (Math.floor(k / (side * side)) * 7 + (k % (side * side))) % 256,
  );
  return idx(0x08, [n, side, side], data);
}

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'idx-test-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('parseIdx reads dims and bytes of a plain file', () => {
  const { dims, data } = parseIdx(idx(0x08, [3], [4, 5, 6]));
  assert.deepEqual(dims, [3]);
  assert.deepEqual([...data], [4, 5, 6]);
});

test('parseIdx inflates gzipped input detected by its magic bytes', () => {
  const plain = imagesIdx(2);
  const { dims, data } = parseIdx(gzipSync(plain));
  assert.deepEqual(dims, [2, 28, 28]);
  assert.deepEqual(data, new Uint8Array(plain.subarray(16)));
});

test('parseIdx names the file and the expected magic for a non-IDX file', () => {
  assert.throws(
    () => parseIdx(Buffer.from('\x89PNG\r\n\x1a\n0000'), { name: 'digits.png' }),
    (err: Error) =>
      err instanceof IdxFormatError &&
      /digits\.png/.test(err.message) &&
      /0x00000803 \(images\) or 0x00000801 \(labels\)/.test(err.message),
  );
});

test('parseIdx rejects a labels file where images were expected', () => {
  assert.throws(
    () => parseIdx(idx(0x08, [2], [1, 2]), { name: 'x', expectedMagic: 0x803 }),
    /magic number 0x00000801 .*expected 0x00000803/,
  );
});

test('parseIdx reports truncation with expected and actual byte counts', () => {
  const truncated = imagesIdx(2).subarray(0, 16 + 1000);
  assert.throws(
    () => parseIdx(truncated, { name: 'short.idx' }),
    /short\.idx: truncated: header declares 2×28×28 = 1568 data bytes, the file has 1000/,
  );
  assert.throws(
    () => parseIdx(idx(0x08, [2, 28, 28], []).subarray(0, 10)),
    /truncated header: 3 dimensions need 16 bytes, the file has 10/,
  );
});

test('parseIdx rejects unsupported element types and names the supported one', () => {
  assert.throws(
    () => parseIdx(idx(0x0d, [1], [0, 0, 0, 0])),
    /float32 \(0x0d\) is not supported; only unsigned byte \(0x08\)/,
  );
});

test('parseIdx reports a corrupt gzip stream', () => {
  const gz = gzipSync(imagesIdx(1));
  assert.throws(
    () => parseIdx(gz.subarray(0, 40), { name: 'cut.gz' }),
    /cut\.gz: starts like a gzip file but does not inflate/,
  );
});

test('loadIdxDataset reads plain train files and scales pixels to [0, 1]', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), imagesIdx(3));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx(0x08, [3], [7, 0, 9]));
    const ds = loadIdxDataset(dir, 'train');
    assert.equal(ds.count, 3);
    assert.equal(ds.images.length, 3 * 784);
    assert.deepEqual([...ds.labels], [7, 0, 9]);
    assert.equal(ds.images[784 + 5], Math.fround((7 + 5) / 255));
    assert.ok(ds.images.every((v) => v >= 0 && v <= 1));
    assert.match(ds.source, /train-images-idx3-ubyte/);
  });
});

test('loadIdxDataset reads gzipped t10k files with the dotted spelling', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 't10k-images.idx3-ubyte.gz'), gzipSync(imagesIdx(2)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(idx(0x08, [2], [1, 2])));
    const ds = loadIdxDataset(dir, 'test');
    assert.equal(ds.count, 2);
    assert.deepEqual([...ds.labels], [1, 2]);
  });
});

test('loadIdxDataset lists the file names it looked for when files are missing', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), imagesIdx(1));
    assert.throws(
      () => loadIdxDataset(dir, 'train'),
      (err: Error) =>
        err.message.includes('train-labels-idx1-ubyte, train-labels-idx1-ubyte.gz, train-labels.idx1-ubyte') &&
        !err.message.includes('train-images'),
    );
  });
});

test('loadIdxDataset checks counts, image size and label range', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), imagesIdx(3));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx(0x08, [2], [1, 2]));
    assert.throws(() => loadIdxDataset(dir, 'train'), /has 3 images but .* has 2 labels/);

    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx(0x08, [3], [1, 12, 2]));
    assert.throws(() => loadIdxDataset(dir, 'train'), /label 1 is 12; MNIST labels must be 0–9/);

    writeFileSync(join(dir, 'train-images-idx3-ubyte'), imagesIdx(3, 14));
    assert.throws(() => loadIdxDataset(dir, 'train'), /images are 14×14; MNIST digits must be 28×28/);
  });
});

test('loadIdxDataset rejects an unknown split', () => {
  assert.throws(() => loadIdxDataset('.', 'val' as 'test'), /must be 'train' or 'test', got "val"/);
});
