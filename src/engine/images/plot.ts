// Line charts as PNG (training loss curves, σ sweeps, timings) without a browser or canvas:
// a vega-lite spec, compiled to vega, rendered headless to SVG, rasterised by sharp.
//
// vega and vega-lite are imported only when a chart is rendered: vega-lite defines
// Set.prototype.toJSON on load, which breaks discord.js's event emitter when it is imported
// afterwards. Plots are drawn in the engine worker and the CLI, never in the bot's main thread,
// so importing this module (the command registry does, through the digit figures) stays harmless.
import sharp from 'sharp';
import type { TopLevelSpec } from 'vega-lite';

export interface PlotSeries {
  name: string;
  points: Array<[x: number, y: number]>;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  /** Log-scale y axis, for losses that fall over orders of magnitude; every y must be > 0. */
  logY?: boolean;
  /** Size of the whole PNG in pixels, axes and legend included (default 640×400). */
  width?: number;
  height?: number;
}

/** Builds the vega-lite spec; exported so tests and the web console can reuse it. */
export function lineChartSpec(opts: PlotOptions): TopLevelSpec {
  const width = opts.width ?? 640;
  const height = opts.height ?? 400;
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 100 ||
    height < 100 ||
    width > 4096 ||
    height > 4096
  ) {
    throw new RangeError(`plotLines: width and height must be integers from 100 to 4096, got ${width}×${height}`);
  }
  if (opts.series.length === 0) throw new RangeError('plotLines needs at least one series');
  const values: Array<{ series: string; x: number; y: number }> = [];
  for (const s of opts.series) {
    if (s.points.length === 0) throw new RangeError(`plotLines: series "${s.name}" has no points`);
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        throw new RangeError(
          `plotLines: series "${s.name}" has a non-finite point (${x}, ${y}); points must be finite numbers`,
        );
      }
      if (opts.logY && y <= 0) {
        throw new RangeError(`plotLines: series "${s.name}" has y = ${y}; a log y axis needs every y > 0`);
      }
      values.push({ series: s.name, x, y });
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    width,
    height,
    // fit + padding: the width and height above are the whole image, not just the plot area,
    // so callers get the PNG size they asked for.
    autosize: { type: 'fit', contains: 'padding' },
    background: 'white',
    data: { values },
    // Point markers help read a short sweep but clutter a long loss curve.
    mark: { type: 'line', point: values.length <= 20 * opts.series.length },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xLabel, scale: { zero: false } },
      y: {
        field: 'y',
        type: 'quantitative',
        title: opts.yLabel,
        scale: opts.logY ? { type: 'log' } : { zero: false },
      },
      color: { field: 'series', type: 'nominal', title: null, sort: opts.series.map((s) => s.name) },
    },
  };
}

/** Renders a vega-lite spec to SVG text, headless (no canvas, no network). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [{ parse, View }, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Plots named (x, y) series as lines and returns a PNG.
 * @example await plotLines({ title: 'Training loss', xLabel: 'step', yLabel: 'MSE', logY: true, series: [{ name: 'train', points }] })
 */
export async function plotLines(opts: PlotOptions): Promise<Buffer> {
  const svg = await renderSvg(lineChartSpec(opts));
  return sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).png().toBuffer();
}
