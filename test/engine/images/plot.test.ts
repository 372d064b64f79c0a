// Tests for line plots: the PNG has the requested size and real content (axes, text, lines),
// log axes refuse non-positive values, and the spec carries one colour per series.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { lineChartSpec, plotLines } from '../../../src/engine/images/plot.js';

const loss = (scale: number) =>
  Array.from({ length: 50 }, (_, i): [number, number] => [i, scale * Math.exp(-i / 10) + 0.01]);

test('plotLines renders a PNG of the requested size with visible content', async () => {
  const png = await plotLines({
    title: 'Training loss',
    xLabel: 'step',
    yLabel: 'MSE',
    logY: true,
    series: [
      { name: 'train', points: loss(1) },
      { name: 'test', points: loss(0.5) },
    ],
    width: 480,
    height: 300,
  });
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, 480);
  assert.equal(meta.height, 300);
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let ink = 0;
  let coloured = 0;
  for (let i = 0; i < data.length; i += info.channels) {
    const [r, g, b] = [data[i]!, data[i + 1]!, data[i + 2]!];
    if (r < 200 || g < 200 || b < 200) ink++;
    if (Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++;
  }
  const pixels = info.width * info.height;
  assert.ok(ink > pixels * 0.005 && ink < pixels * 0.5, `drawn pixels: ${ink} of ${pixels}`);
  assert.ok(coloured > 100, `coloured (series line) pixels: ${coloured}`);
});

test('lineChartSpec uses one colour per series in the given order', () => {
  const spec = lineChartSpec({
    title: 't',
    xLabel: 'x',
    yLabel: 'y',
    series: [
      { name: 'b', points: [[0, 1]] },
      { name: 'a', points: [[0, 2]] },
    ],
  });
  assert.deepEqual((spec as { encoding: { color: { sort: string[] } } }).encoding.color.sort, ['b', 'a']);
});

test('plotLines errors name what is allowed', async () => {
  const base = { title: 't', xLabel: 'x', yLabel: 'y' };
  await assert.rejects(plotLines({ ...base, series: [] }), /at least one series/);
  await assert.rejects(
    plotLines({ ...base, logY: true, series: [{ name: 'loss', points: [[0, 0]] }] }),
    /series "loss" has y = 0; a log y axis needs every y > 0/,
  );
  await assert.rejects(plotLines({ ...base, series: [{ name: 's', points: [[0, NaN]] }] }), /non-finite point/);
  await assert.rejects(
    plotLines({ ...base, series: [{ name: 's', points: [[0, 1]] }], width: 50 }),
    /integers from 100 to 4096/,
  );
});
