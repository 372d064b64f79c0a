// Starting the bot: a chat front end that cannot start stops the whole bot cleanly, with a
// one-line reason, and leaves the database closed and reusable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot, FrontEndStartError } from '../../src/bot/main.js';
import { loadConfig } from '../../src/bot/config.js';
import { openStore } from '../../src/store/index.js';

test('a front end that fails to start stops the bot and says which one and why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-main-'));
  const config = loadConfig({ DATA_DIR: join(dir, 'data'), PORT: '0' });
  const broken = {
    name: 'slack',
    enabled: () => true,
    start: async () => {
      throw new Error('SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is required');
    },
  };
  await assert.rejects(
    startBot(config, { starters: [broken], log: () => {} }),
    (err: unknown) => err instanceof FrontEndStartError && /^slack could not start: SLACK_APP_TOKEN/.test(err.message),
  );
  // The database was closed cleanly: it opens again and the bot starts without the broken front end.
  openStore(join(dir, 'data', 'illusionist.db')).close();
  const bot = await startBot(config, { starters: [], log: () => {} });
  await bot.stop();
});
