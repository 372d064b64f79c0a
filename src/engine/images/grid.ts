// Lays out many small images as one sheet (the 4×10 digit grids, σ sweeps, per-step frames),
// optionally with a caption above each cell, as torchvision's make_grid does for the notebooks.
import sharp from 'sharp';
import { checkImageSize, checkScale, quantize, type PixelRange } from './encode.js';

export interface GridOptions {
  /** Size of every input image (all must match). */
  width: number;
  height: number;
  channels: 1 | 3;
  /** Images per row; fewer images than this make a single, narrower row. */
  cols: number;
  /** Pixels between cells and around the sheet (default 2, as make_grid). */
  pad?: number;
  /** Value of the padding, in the images' own range (default 0). */
  padValue?: number;
  /** One caption per image; reserves a band above each cell that gridPng writes the text in. */
  labels?: string[];
  /** Height of the caption band in input pixels (default 40% of the cell, 10–24). */
  labelHeight?: number;
}

export interface GridCell {
  /** Top-left corner of the image (below its caption band). */
  x: number;
  y: number;
  label?: string;
}

export interface Grid {
  data: Float32Array;
  width: number;
  height: number;
  channels: 1 | 3;
  cells: GridCell[];
  /** Height of the caption band above each cell; 0 without labels. */
  labelHeight: number;
}

/**
 * Tiles equally sized HWC images row by row.
 * @example makeGrid(digits, { width: 28, height: 28, channels: 1, cols: 10, padValue: -1 })
 */
export function makeGrid(images: Float32Array[], opts: GridOptions): Grid {
  const { width, height, channels } = opts;
  const pad = opts.pad ?? 2;
  if (images.length === 0) throw new RangeError('makeGrid needs at least one image');
  if (!Number.isInteger(opts.cols) || opts.cols < 1) {
    throw new RangeError(`makeGrid: cols must be a positive integer, got ${opts.cols}`);
  }
  if (!Number.isInteger(pad) || pad < 0)
    throw new RangeError(`makeGrid: pad must be a non-negative integer, got ${pad}`);
  images.forEach((img, i) => {
    checkImageSize(`makeGrid image ${i}`, img.length, width, height, channels);
  });
  const labels = opts.labels;
  if (labels && labels.length !== images.length) {
    throw new RangeError(`makeGrid: ${images.length} images but ${labels.length} labels; give one label per image`);
  }
  const labelHeight = labels ? (opts.labelHeight ?? Math.min(24, Math.max(10, Math.round(height * 0.4)))) : 0;
  if (!Number.isInteger(labelHeight) || labelHeight < 0) {
    throw new RangeError(`makeGrid: labelHeight must be a non-negative integer, got ${labelHeight}`);
  }

  const cols = Math.min(opts.cols, images.length);
  const rows = Math.ceil(images.length / cols);
  const gridWidth = pad + cols * (width + pad);
  const gridHeight = pad + rows * (labelHeight + height + pad);
  const data = new Float32Array(gridWidth * gridHeight * channels).fill(opts.padValue ?? 0);
  const rowLength = width * channels;
  const cells = images.map((img, i): GridCell => {
    const x = pad + (i % cols) * (width + pad);
    const y = pad + Math.floor(i / cols) * (labelHeight + height + pad) + labelHeight;
    for (let r = 0; r < height; r++) {
      data.set(img.subarray(r * rowLength, (r + 1) * rowLength), ((y + r) * gridWidth + x) * channels);
    }
    return labels ? { x, y, label: labels[i] } : { x, y };
  });
  return { data, width: gridWidth, height: gridHeight, channels, cells, labelHeight };
}

export interface GridPngOptions extends GridOptions {
  /** Values mapped to black and white (default [0, 1]). */
  range?: PixelRange;
  /** Integer nearest-neighbour upscale of the whole sheet, captions drawn at the final size. */
  scale?: number;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * makeGrid, then a PNG with the captions typeset by sharp's SVG renderer in a colour that
 * contrasts with the padding.
 */
export async function gridPng(images: Float32Array[], opts: GridPngOptions): Promise<Buffer> {
  const grid = makeGrid(images, opts);
  const scale = opts.scale ?? 1;
  checkScale(scale);
  const { width, height, channels } = grid;
  let img = sharp(quantize(grid.data, opts.range), { raw: { width, height, channels } }).toColourspace(
    channels === 1 ? 'b-w' : 'srgb',
  );
  if (scale > 1) img = img.resize(width * scale, height * scale, { kernel: 'nearest' });
  if (grid.labelHeight > 0) {
    // Render the upscaled sheet first: sharp applies composite before resize in one pipeline.
    const scaled = await img.png().toBuffer();
    const [lo, hi] = opts.range ?? [0, 1];
    const padLevel = ((opts.padValue ?? 0) - lo) / (hi - lo);
    const fill = padLevel < 0.5 ? '#ffffff' : '#000000';
    const band = grid.labelHeight * scale;
    const texts = grid.cells.map((c) => {
      const label = c.label ?? '';
      // Shrink long captions to the cell width (DejaVu Sans averages ~0.6 em per character).
      const fitWidth = (opts.width * scale) / (0.6 * Math.max(1, label.length));
      const fontSize = Math.max(6, Math.round(Math.min(band * 0.7, fitWidth)));
      return (
        `<text x="${(c.x + opts.width / 2) * scale}" y="${c.y * scale - band * 0.22}" font-size="${fontSize}" ` +
        `text-anchor="middle" font-family="DejaVu Sans, sans-serif" fill="${fill}">${escapeXml(label)}</text>`
      );
    });
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width * scale}" height="${height * scale}">${texts.join('')}</svg>`;
    img = sharp(scaled).composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
    if (channels === 1) img = img.toColourspace('b-w');
  }
  return img.png().toBuffer();
}
