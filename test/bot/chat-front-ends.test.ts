// The chat starters' configuration: which front end runs for which variables, and clear errors
// for half-configured Slack or malformed limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChatConfigError,
  discordFrontEnd,
  discordOptionsFromEnv,
  slackFrontEnd,
  slackOptionsFromEnv,
} from '../../src/bot/chat-front-ends.js';
import type { CommandService } from '../../src/commands/contract.js';

const service = {} as CommandService;

test('Discord runs with DISCORD_TOKEN; upload limit and vote emoji come from the environment', () => {
  assert.equal(discordFrontEnd.enabled({}), false);
  assert.equal(discordFrontEnd.enabled({ DISCORD_TOKEN: 't' }), true);
  const o = discordOptionsFromEnv(
    { DISCORD_TOKEN: ' t ', DISCORD_UPLOAD_LIMIT: '26214400', DISCORD_VOTE_EMOJI: '⭐, 👍' },
    service,
  );
  assert.equal(o.token, 't');
  assert.equal(o.uploadLimitBytes, 25 * 1024 * 1024);
  assert.deepEqual(o.voteEmoji, ['⭐', '👍']);
  assert.equal(
    discordOptionsFromEnv({ DISCORD_TOKEN: 't' }, service).uploadLimitBytes,
    undefined,
    'default (10 MiB) left to the front end',
  );
  assert.throws(
    () => discordOptionsFromEnv({ DISCORD_TOKEN: 't', DISCORD_UPLOAD_LIMIT: '10MB' }, service),
    /DISCORD_UPLOAD_LIMIT must be a positive integer/,
  );
});

test('Slack runs with SLACK_BOT_TOKEN and needs an app token (socket mode) or a signing secret (HTTP)', () => {
  assert.equal(slackFrontEnd.enabled({ SLACK_APP_TOKEN: 'xapp' }), false);
  assert.equal(slackFrontEnd.enabled({ SLACK_BOT_TOKEN: 'xoxb' }), true);
  assert.throws(
    () => slackOptionsFromEnv({ SLACK_BOT_TOKEN: 'xoxb' }, service),
    (e: unknown) => e instanceof ChatConfigError && /SLACK_APP_TOKEN .* SLACK_SIGNING_SECRET/.test(e.message),
  );
  const socket = slackOptionsFromEnv({ SLACK_BOT_TOKEN: 'xoxb', SLACK_APP_TOKEN: 'xapp' }, service);
  assert.equal(socket.appToken, 'xapp');
  const http = slackOptionsFromEnv(
    { SLACK_BOT_TOKEN: 'xoxb', SLACK_SIGNING_SECRET: 's', SLACK_PORT: '3001', SLACK_COMMAND: '/ill' },
    service,
  );
  assert.deepEqual([http.signingSecret, http.port, http.umbrellaCommand], ['s', 3001, 'ill']);
  assert.throws(
    () => slackOptionsFromEnv({ SLACK_BOT_TOKEN: 'xoxb', SLACK_SIGNING_SECRET: 's', SLACK_PORT: 'x' }, service),
    /SLACK_PORT must be a port number/,
  );
});

test('DISCORD_API_URL and SLACK_API_URL point the SDKs elsewhere and must be http(s) URLs', () => {
  assert.equal(
    discordOptionsFromEnv({ DISCORD_TOKEN: 't', DISCORD_API_URL: 'http://127.0.0.1:9/api' }, service).restApi,
    'http://127.0.0.1:9/api',
  );
  assert.equal(
    discordOptionsFromEnv({ DISCORD_TOKEN: 't' }, service).restApi,
    undefined,
    "unset: discord.js's default",
  );
  assert.throws(
    () => discordOptionsFromEnv({ DISCORD_TOKEN: 't', DISCORD_API_URL: 'discord.com/api' }, service),
    /DISCORD_API_URL must be an http\(s\) URL, got "discord.com\/api"/,
  );
  const slack = { SLACK_BOT_TOKEN: 'xoxb', SLACK_SIGNING_SECRET: 's' };
  assert.equal(
    slackOptionsFromEnv({ ...slack, SLACK_API_URL: 'https://proxy.example/api/' }, service).slackApiUrl,
    'https://proxy.example/api/',
  );
  assert.throws(
    () => slackOptionsFromEnv({ ...slack, SLACK_API_URL: 'ftp://x/' }, service),
    /SLACK_API_URL must be an http\(s\) URL, got "ftp:\/\/x\/"/,
  );
});
