// PNGs of MNIST-sized images (single digits, their grids, sampling previews) written here with
// node:zlib: a job that makes only those loads no image library. libvips (sharp) took ~130 ms to
// import of a 2 s `illusionist digits`, and pngjs 25–45 ms (twice: the CLI's thread and the
// engine's); the format needs only a header, one deflated pixel stream and a checksum per chunk.
// Larger images keep sharp's encoder (encodePng), 2–3× faster than deflate here at 1024².
import { crc32, deflateSync } from 'node:zlib';
import { checkImageSize, checkScale } from './encode.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A chunk: length, type, data, then the CRC-32 of type and data. */
function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * 8-bit grey or RGB bytes (HWC) as a PNG, upscaled `scale`× by nearest neighbour.
 * @example smallPng(quantize(digit, [0, 1]), 28, 28, 1, 2)
 */
export function smallPng(bytes: Uint8Array, width: number, height: number, channels: 1 | 3, scale = 1): Buffer {
  checkImageSize('smallPng', bytes.length, width, height, channels);
  checkScale(scale);
  const w = width * scale;
  const h = height * scale;
  const stride = w * channels + 1;
  // Each row is its filter type (0: none; deflate alone packs digits within 10% of a Paeth filter) and its pixels.
  const rows = new Uint8Array(stride * h);
  for (let y = 0; y < h; y++) {
    const src = Math.floor(y / scale) * width * channels;
    const dst = y * stride + 1;
    for (let x = 0; x < w; x++) {
      const s = src + Math.floor(x / scale) * channels;
      for (let c = 0; c < channels; c++) rows[dst + x * channels + c] = bytes[s + c]!;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(w, 0);
  header.writeUInt32BE(h, 4);
  header[8] = 8; // bits per sample
  header[9] = channels === 1 ? 0 : 2; // colour type: grey or RGB
  // compression, filter and interlace methods: 0 (deflate, adaptive filters, none)
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
