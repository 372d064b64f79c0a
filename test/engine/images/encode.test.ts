// Tests for PNG encoding and guarded decoding: byte-exact round trips, upscaling, the three
// upload refusals (corrupt, too large, decompression bomb) and sketch → MNIST digit framing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import sharp, { type OutputInfo } from 'sharp';
import {
  ImageDecodeError,
  decodeImage,
  encodePng,
  interleavedToPlanar,
  planarToInterleaved,
  quantize,
  resizeTo,
  toGrayscale28,
  type RasterImage,
} from '../../../src/engine/images/encode.js';

const LIMITS = { maxBytes: 1 << 20, maxPixels: 1 << 20 };

function ramp(n: number): Float32Array {
  return new Float32Array(n).map((_, i) => (i % 256) / 255);
}

/** Reads a grey PNG back as one byte per pixel (sharp's raw output would otherwise be RGB). */
async function greyBytesOf(png: Buffer): Promise<{ data: Buffer; info: OutputInfo }> {
  assert.equal((await sharp(png).metadata()).channels, 1, 'PNG is stored as grey');
  return sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
}

test('encodePng → decodeImage round-trips grey and RGB bytes exactly', async () => {
  for (const channels of [1, 3] as const) {
    const pixels = ramp(16 * 8 * channels);
    const png = await encodePng(pixels, 16, 8, channels);
    const img = await decodeImage(png, LIMITS);
    assert.equal(img.width, 16);
    assert.equal(img.height, 8);
    assert.equal(img.channels, channels);
    assert.deepEqual(quantize(img.data), quantize(pixels));
  }
});

test('encodePng maps a custom range and clamps outliers and NaN', async () => {
  const png = await encodePng(new Float32Array([-1, 0, 1, 5, -7, NaN]), 6, 1, 1, { range: [-1, 1] });
  const { data, info } = await greyBytesOf(png);
  assert.equal(info.channels, 1);
  assert.deepEqual([...data], [0, 128, 255, 255, 0, 0]);
});

test('encodePng scale is an exact nearest-neighbour upscale', async () => {
  const pixels = new Float32Array([0, 1, 1, 0.2]); // 2×2
  const { data, info } = await greyBytesOf(await encodePng(pixels, 2, 2, 1, { scale: 3 }));
  assert.equal(info.width, 6);
  assert.equal(info.height, 6);
  const expected = [0, 255, 255, 51];
  for (let y = 0; y < 6; y++) {
    for (let x = 0; x < 6; x++) assert.equal(data[y * 6 + x], expected[Math.floor(y / 3) * 2 + Math.floor(x / 3)]);
  }
});

test('encodePng rejects mismatched sizes and bad scales with the allowed values', async () => {
  await assert.rejects(encodePng(new Float32Array(5), 2, 2, 1), /5 values do not make a 2×2×1 image \(4 expected\)/);
  await assert.rejects(
    encodePng(new Float32Array(4), 2, 2, 1, { scale: 1.5 }),
    /scale must be an integer from 1 to 64/,
  );
  await assert.rejects(encodePng(new Float32Array(8), 2, 2, 2 as 1), /channels must be 1 \(grey\) or 3 \(RGB\)/);
});

test('decodeImage refuses a corrupt file as not-an-image', async () => {
  const png = await encodePng(ramp(64 * 64), 64, 64, 1);
  for (const bad of [Buffer.from('hello, not an image'), png.subarray(0, png.length / 2)]) {
    await assert.rejects(decodeImage(bad, LIMITS), (err: Error) => {
      assert.ok(err instanceof ImageDecodeError);
      assert.equal(err.code, 'not-an-image');
      assert.match(err.message, /PNG, JPEG, WebP/);
      return true;
    });
  }
});

test('decodeImage refuses files over maxBytes and images over maxPixels', async () => {
  const png = await encodePng(ramp(100 * 100), 100, 100, 1);
  await assert.rejects(decodeImage(png, { maxBytes: 100, maxPixels: 1e6 }), (err: ImageDecodeError) => {
    assert.equal(err.code, 'too-many-bytes');
    assert.match(err.message, new RegExp(`image is ${png.length} bytes; the limit is 100 bytes`));
    return true;
  });
  await assert.rejects(decodeImage(png, { maxBytes: 1e6, maxPixels: 5000 }), (err: ImageDecodeError) => {
    assert.equal(err.code, 'too-many-pixels');
    assert.match(err.message, /100×100 = 10000 pixels; the limit is 5000 pixels/);
    return true;
  });
});

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), body]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed));
  return Buffer.concat([len, typed, crc]);
}

test('decodeImage refuses a decompression bomb from its header alone', async () => {
  // A valid PNG header declaring 50000×50000 grey pixels (2.5 GB raw) in a few hundred bytes:
  // the IDAT inflates to the first rows only, so nothing here allocates the real size.
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(50_000, 0);
  ihdr.writeUInt32BE(50_000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const bomb = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(50_001 * 4))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  assert.ok(bomb.length < 1000, `bomb is ${bomb.length} bytes`);
  await assert.rejects(decodeImage(bomb, LIMITS), (err: ImageDecodeError) => {
    assert.equal(err.code, 'too-many-pixels');
    assert.match(err.message, /50000×50000/);
    return true;
  });
});

test('decodeImage flattens transparency onto white', async () => {
  const rgba = Buffer.from([0, 0, 0, 0, 0, 0, 0, 255]); // transparent, opaque black
  const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } })
    .png()
    .toBuffer();
  const img = await decodeImage(png, LIMITS);
  assert.equal(img.channels, 3);
  assert.deepEqual([...img.data], [1, 1, 1, 0, 0, 0]);
});

/** A w×h grey image with a stroke rectangle [x0,x1)×[y0,y1) of `ink` on `paper`. */
function sketch(w: number, h: number, rect: [number, number, number, number], ink: number, paper: number): RasterImage {
  const data = new Float32Array(w * h).fill(paper);
  const [x0, y0, x1, y1] = rect;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * w + x] = ink;
  return { data, width: w, height: h, channels: 1 };
}

function centreOfMass(img: RasterImage): [number, number] {
  let m = 0;
  let cx = 0;
  let cy = 0;
  img.data.forEach((v, i) => {
    m += v;
    cx += v * (i % img.width);
    cy += v * Math.floor(i / img.width);
  });
  return [cx / m, cy / m];
}

test('toGrayscale28 inverts a dark-on-light sketch and centres the digit MNIST-style', async () => {
  // A black bar off in the top-left corner of a white 200×100 page.
  const img = await toGrayscale28(sketch(200, 100, [10, 10, 30, 70], 0, 1));
  assert.equal(img.width, 28);
  assert.equal(img.height, 28);
  assert.equal(img.channels, 1);
  const corner = img.data[0]!;
  assert.equal(corner, 0, 'background becomes black');
  assert.equal(Math.max(...img.data), 1, 'strokes are stretched to white');
  const [cx, cy] = centreOfMass(img);
  assert.ok(Math.abs(cx - 13.5) <= 1 && Math.abs(cy - 13.5) <= 1, `centre of mass at ${cx}, ${cy}`);
  // The 60-pixel-tall bar is fitted into the 20-pixel box.
  const rows = new Set<number>();
  img.data.forEach((v, i) => {
    v > 0.5 && rows.add(Math.floor(i / 28));
  });
  assert.ok(rows.size >= 18 && rows.size <= 21, `bar spans ${rows.size} rows`);
});

test('toGrayscale28 keeps white-on-black input and letterboxes when not centring', async () => {
  const img = await toGrayscale28(sketch(56, 56, [0, 0, 28, 56], 1, 0), { centerDigit: false });
  assert.ok(img.data[28 + 3]! > 0.9, 'left half stays white');
  assert.ok(img.data[28 + 24]! < 0.1, 'right half stays black');
  const kept = await toGrayscale28(sketch(56, 56, [10, 10, 40, 40], 0, 1), {
    invertIfLightBackground: false,
    centerDigit: false,
  });
  assert.ok(kept.data[0]! > 0.9, 'light background kept when inversion is off');
});

test('resizeTo centre-crops to the target size and converts grey to RGB', async () => {
  const src = sketch(128, 64, [32, 0, 96, 64], 1, 0); // white centre square on black sides
  const out = await resizeTo(src, 64, 64, { channels: 3 });
  assert.equal(out.width, 64);
  assert.equal(out.height, 64);
  assert.equal(out.channels, 3);
  assert.equal(out.data.length, 64 * 64 * 3);
  assert.ok(
    out.data.every((v) => v > 0.99),
    'cover crop keeps only the white centre',
  );
  const rgb = await resizeTo({ data: ramp(8 * 8 * 3), width: 8, height: 8, channels: 3 }, 256, 256);
  assert.equal(rgb.data.length, 256 * 256 * 3);
});

test('planar and interleaved layouts convert both ways', () => {
  const chw = new Float32Array([1, 2, 3, 4, 5, 6]); // 3 channels of 1×2
  const hwc = planarToInterleaved(chw, 3, 1, 2);
  assert.deepEqual([...hwc], [1, 3, 5, 2, 4, 6]);
  assert.deepEqual(interleavedToPlanar(hwc, 3, 1, 2), chw);
});
