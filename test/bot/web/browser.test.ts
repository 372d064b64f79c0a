// The web console in a real browser (Debian's chromium via playwright-core) against `startBot`,
// the code `npm start` runs: /anagram 6 9 with a flip, /digits 7, a drawn sketch, the gallery;
// the form's limits, one job per double click, /job as fields, history after a reload, Delete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { loadConfig } from '../../../src/bot/config.js';
import { startBot } from '../../../src/bot/main.js';
import { tinyClassCheckpoint } from '../../helpers/tiny-mnist.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function run(page: Page, command: string, fill: Record<string, string>): Promise<void> {
  // Choosing the command again would rebuild the form and lose a drawing.
  if ((await page.inputValue('#command')) !== command) await page.selectOption('#command', command);
  for (const [name, value] of Object.entries(fill)) {
    const field = page.locator(`#fields [name="${name}"]`);
    if ((await field.evaluate((e) => e.tagName)) === 'SELECT') await field.selectOption(value);
    else await field.fill(value);
  }
  const before = await page.locator('.card').count();
  await page.click('#run');
  await page.locator('.card').nth(before).waitFor({ state: 'attached' });
}

test('in chromium: anagram 6/9 flip, digits 7, a drawn sketch, publish and see it in the gallery', {
  timeout: 180_000,
}, async (t) => {
  // Not a skip: a missing browser fails and says how to install it.
  assert.ok(
    existsSync(CHROMIUM),
    `chromium not found at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\` (Debian) or set CHROMIUM_PATH`,
  );
  const shots = mkdtempSync(join(tmpdir(), 'illusionist-browser-shots-'));
  t.diagnostic(`screenshots in ${shots}`);

  const dir = makeTempDir(t);
  const models = join(dir, 'models');
  mkdirSync(join(models, 'mnist-class'), { recursive: true });
  copyFileSync(await tinyClassCheckpoint(), join(models, 'mnist-class', 'model.safetensors'));
  const previous = process.env.ILLUSIONIST_MODELS;
  process.env.ILLUSIONIST_MODELS = models;
  t.after(() => {
    if (previous === undefined) delete process.env.ILLUSIONIST_MODELS;
    else process.env.ILLUSIONIST_MODELS = previous;
  });
  const bot = await startBot(loadConfig({ DATA_DIR: join(dir, 'data'), PORT: '0' }), { starters: [], log: () => {} });
  t.after(() => bot.stop());

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(bot.web.url.replace('127.0.0.1', 'localhost'));
  await page.waitForSelector('body[data-ready="1"]');

  await run(page, 'anagram', { prompt1: '6', prompt2: '9', view: 'flip', steps: '6', seed: '7' });
  const anagram = page.locator('.card').first();
  // The queued card's summary has the seed too; only a result's caption names the job.
  await anagram.locator('.caption', { hasText: 'seed 7 · job #' }).waitFor({ timeout: 60_000 });
  assert.equal(await anagram.locator('.files img').count(), 3, 'image, views and animation');
  assert.match(
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText (the text as laid out), not the DOM property
    await anagram.locator('.caption').innerText(),
    /\/anagram · prompts "6" \/ "9" · views "identity" \/ "flip"/,
  );
  await page.screenshot({ path: join(shots, '1-anagram.png'), fullPage: true });

  await run(page, 'digits', { digit: '7', count: '4', steps: '8', seed: '3' });
  await page
    .locator('.card')
    .first()
    .locator('.caption', { hasText: /digit 7 .* · job #/ })
    .waitFor({ timeout: 60_000 });
  // Locators are lazy and new cards go on top: pin this one by its job number.
  const digits = page.locator(`.card[data-job="${await page.locator('.card').first().getAttribute('data-job')}"]`);

  // A sketch drawn on the canvas goes up as the edit's image.
  await page.selectOption('#command', 'edit');
  await page.click('button[data-draw="image"]');
  const pad = page.locator('canvas[data-sketch="image"]');
  const box = (await pad.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + 30);
  await page.mouse.down();
  for (let k = 1; k <= 10; k++) await page.mouse.move(box.x + box.width / 2, box.y + 30 + k * 16);
  await page.mouse.up();
  await run(page, 'edit', { prompt: '1', i_start: '2', steps: '6', seed: '9' });
  const edit = page.locator('.card').first();
  await edit.locator('.caption', { hasText: '/edit' }).waitFor({ timeout: 60_000 });
  await page.screenshot({ path: join(shots, '2-edit.png'), fullPage: true });

  // Publish the digits and find them in the gallery panel.
  await digits.locator('button[data-action^="publish:"]').click();
  await page.locator('#gallery .entry', { hasText: 'digit 7' }).waitFor({ timeout: 20_000 });
  const entry = page.locator('#gallery .entry').first();
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText (the text as laid out), not the DOM property
  assert.match(await entry.innerText(), /seed 3 · 0 votes · operator/);
  await entry.locator('button[data-action^="vote:"]').click();
  await page.locator('#gallery .entry', { hasText: '1 vote' }).waitFor({ timeout: 20_000 });
  await page.screenshot({ path: join(shots, '3-gallery.png'), fullPage: true });

  // The form's limits are the server's (MAX_PROMPT_LENGTH 200, not the definitions' 1000).
  await page.selectOption('#command', 'imagine');
  assert.equal(await page.getAttribute('#fields [name="prompt"]', 'maxlength'), '200');
  // i_start stays below steps, as the server checks: 32 with the default 33 steps, 9 with 10.
  await page.selectOption('#command', 'denoise');
  assert.equal(await page.getAttribute('#fields [name="i_start"]', 'max'), '32');
  await page.locator('#fields [name="steps"]').fill('10');
  assert.equal(await page.getAttribute('#fields [name="i_start"]', 'max'), '9');

  // A double click on Run queues one job.
  const jobsBefore = bot.store.jobs.list({ limit: 100 }).length;
  await page.selectOption('#command', 'digits');
  await page.locator('#fields [name="digit"]').fill('2');
  await page.locator('#fields [name="count"]').fill('1');
  await page.locator('#fields [name="steps"]').fill('2');
  await page.dblclick('#run');
  await page.locator('.card').first().locator('.caption', { hasText: 'digit 2' }).waitFor({ timeout: 60_000 });
  assert.equal(bot.store.jobs.list({ limit: 100 }).length, jobsBefore + 1, 'one job for a double click');
  const two = await page.locator('.card').first().getAttribute('data-job');

  // /job reads as fields that fit the card.
  await run(page, 'job', { id: two! });
  const info = page.locator('.card').first();
  await info.locator('dl.fields').waitFor({ timeout: 20_000 });
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText (the text as laid out), not the DOM property
  assert.match(await info.innerText(), /by\s+operator/);
  assert.ok(await info.evaluate((e) => e.scrollWidth <= e.clientWidth + 1), '/job fits its card');
  await page.screenshot({ path: join(shots, '4-job.png'), fullPage: true });

  // A reload keeps your results: the page lists your recent jobs.
  await page.reload();
  await page.waitForSelector('body[data-ready="1"]');
  await page.locator(`.card[data-job="${two}"] .caption`, { hasText: 'digit 2' }).waitFor({ timeout: 20_000 });
  assert.ok(
    (await page.locator('.card[data-job] .files img').count()) >= 4,
    'earlier results come back with their pictures',
  );

  // Delete takes the job away, also after a reload.
  await page.locator(`.card[data-job="${two}"] button[data-action^="delete:"]`).click();
  await page.locator('.card', { hasText: `Job #${two} deleted.` }).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator(`.card[data-job="${two}"]`).count(), 0);
  await page.reload();
  await page.waitForSelector('body[data-ready="1"]');
  assert.equal(await page.locator(`.card[data-job="${two}"]`).count(), 0, 'a deleted job stays deleted');
  await page.screenshot({ path: join(shots, '5-after-delete.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no script errors on the page');
});
