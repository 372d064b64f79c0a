// The same technique, seed and options through the chat service (real store, queue and engine worker)
// and through the CLI (a real `illusionist` process on another data folder) give the same bytes: both
// front ends are made from one definition per technique, with one set of defaults and one job shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Attachment, OptionValue, Reply } from '../../src/commands/contract.js';
import { loadEmbeddedMnist } from '../../src/engine/data/mnist.js';
import { encodePng } from '../../src/engine/images/encode.js';
import { startBotStack, type BotStack } from '../helpers/bot-stack.js';
import { databasePath, openStore } from '../../src/store/index.js';
import { recordingSink } from '../helpers/reply-sink.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { tinyClassCheckpoint } from '../helpers/tiny-mnist.js';
import { TECHNIQUES } from '../../src/techniques/registry.js';

const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const requester = { platform: 'web', userId: 'alice' } as const;

/** The CLI as a user runs it; no DeepFloyd IF folder, so both front ends default to mnist-flow. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** A chat option name as the CLI flag: i_start → --i-start. */
function flags(options: Record<string, string | number>, files: Record<string, string>): string[] {
  return [...Object.entries(options), ...Object.entries(files)].flatMap(([k, v]) => [
    `--${k.replace(/_/g, '-')}`,
    String(v),
  ]);
}

function upload(path: string): Attachment {
  const data = readFileSync(path);
  return { name: path, contentType: 'image/png', size: data.length, fetch: async () => data };
}

/** Name → bytes of a job's output files (job.json aside: it records timings and paths). */
function chatFiles(stack: BotStack, jobId: number): Map<string, Buffer> {
  return new Map(
    stack.store.artifacts
      .listForJob(jobId)
      .filter((o) => o.name !== 'job.json')
      .map((o) => [o.name!, readFileSync(o.path)]),
  );
}

function cliFiles(dir: string): Map<string, Buffer> {
  return new Map(
    readdirSync(dir)
      .filter((n) => n !== 'job.json')
      .map((n) => [n, readFileSync(join(dir, n))]),
  );
}

interface Case {
  command: string;
  options: Record<string, string | number>;
  files?: Record<string, string>;
}

test('chat and CLI: same command, seed and options → the same job parameters and byte-identical files', {
  timeout: 600_000,
}, async (t) => {
  const stack = await startBotStack(t, { service: { rateLimit: { max: 100, windowMs: 60_000 } } });
  const checkpoint = await tinyClassCheckpoint();
  const root = makeTempDir(t, 'illusionist-front-ends-');
  const env = { DATA_DIR: join(root, 'cli-data'), ILLUSIONIST_MODELS: join(root, 'no-models') };
  mkdirSync(env.ILLUSIONIST_MODELS);

  // An MNIST "3" at 40×30 (not the model's 28×28): boxes are in the upload's pixels on both sides.
  const mnist = loadEmbeddedMnist();
  const digit = new Float32Array(40 * 30);
  for (let y = 0; y < 28; y++)
    for (let x = 0; x < 28; x++) digit[(y + 1) * 40 + x + 6] = mnist.images[7 * 784 + y * 28 + x]!;
  const digitPng = join(root, 'digit.png');
  writeFileSync(digitPng, await encodePng(digit, 40, 30, 1));

  const cases: Case[] = [
    // Defaults left to the definitions: guidance (5 for mnist-flow), steps, views.
    { command: 'anagram', options: { prompt1: '6', prompt2: '9', view: 'flip', seed: 3 } },
    { command: 'edit', options: { prompt: '3', seed: 4, steps: 24 }, files: { image: digitPng } },
    { command: 'inpaint', options: { box: '6,1,14,28', prompt: '8', seed: 5, steps: 8 }, files: { image: digitPng } },
    { command: 'denoise', options: { seed: 6, steps: 10 }, files: { image: digitPng } },
    { command: 'imagine', options: { prompt: 'seven', count: 2, seed: 7, steps: 6 } },
    { command: 'hybrid', options: { far: '1', near: '8', seed: 8, steps: 6 } },
  ];
  for (const c of cases) {
    const sink = recordingSink();
    const options: Record<string, OptionValue> = { ...c.options };
    for (const [k, path] of Object.entries(c.files ?? {})) options[k] = upload(path);
    await stack.service.handle({ command: c.command, options, requester }, sink);
    const last: Reply = sink.last();
    assert.equal(last.type, 'result', `${c.command} in chat: ${JSON.stringify(last)}`);
    const jobId = (last as Extract<Reply, { type: 'result' }>).jobId;

    const out = join(root, `cli-${c.command}`);
    const r = await cli([c.command, ...flags(c.options, c.files ?? {}), '--checkpoint', checkpoint, '--out', out], env);
    assert.equal(r.code, 0, `${c.command} on the CLI: ${r.stderr}`);

    // One job shape: the same parameters, but for where each front end keeps the upload and names the checkpoint.
    const strip = (p: unknown): Record<string, unknown> => {
      const { image, mask, checkpoint: _name, checkpointPath, ...rest } = p as Record<string, unknown>;
      return {
        ...rest,
        image: image === undefined ? 'none' : 'upload',
        mask: mask === undefined ? 'none' : 'upload',
        checkpointPath: checkpointPath === undefined ? 'none' : 'file',
      };
    };
    const cliStore = openStore(databasePath(env.DATA_DIR));
    let cliParams: unknown;
    try {
      cliParams = cliStore.jobs.get(cases.indexOf(c) + 1)?.params;
    } finally {
      cliStore.close();
    }
    assert.deepEqual(strip(cliParams), strip(stack.store.jobs.get(jobId)!.params), `${c.command}: job parameters`);

    const chat = chatFiles(stack, jobId);
    const local = cliFiles(out);
    assert.deepEqual([...local.keys()].sort(), [...chat.keys()].sort(), `${c.command}: the same files`);
    for (const [name, bytes] of chat)
      assert.ok(bytes.equals(local.get(name)!), `${c.command}: ${name} differs between chat and the CLI`);
  }
});

test('chat and CLI refuse the same values with the same message: one range per option', {
  timeout: 300_000,
}, async (t) => {
  const stack = await startBotStack(t, { runner: false });
  const root = makeTempDir(t, 'illusionist-limits-');
  const env = { DATA_DIR: join(root, 'cli-data'), ILLUSIONIST_MODELS: join(root, 'no-models') };
  const checkpoint = await tinyClassCheckpoint();
  const required: Record<string, Record<string, string>> = {
    imagine: { prompt: '7' },
    anagram: { prompt1: '6', prompt2: '9' },
    hybrid: { far: '1', near: '8' },
  };
  // One value above each numeric limit (the random seed aside), and /digits' steps: chat and the CLI share each limit.
  const cases: Array<[string, string, string]> = [['digits', 'steps', '301']];
  for (const tech of TECHNIQUES) {
    if (!required[tech.name]) continue;
    for (const o of tech.options)
      if ((o.kind === 'integer' || o.kind === 'number') && o.name !== 'seed' && o.max !== undefined)
        cases.push([tech.name, o.name, String(o.max + 1)]);
  }
  assert.ok(cases.length >= 10, `${cases.length} cases`);
  for (const [command, option, value] of cases) {
    const sink = recordingSink();
    await stack.service.handle({ command, options: { ...required[command], [option]: value }, requester }, sink);
    const reply = sink.last();
    assert.equal(reply.type, 'error', `${command} ${option}:${value} in chat`);
    const message = (reply as Extract<Reply, { type: 'error' }>).message;
    const args = [
      command,
      ...flags(required[command] ?? {}, {}),
      `--${option.replace(/_/g, '-')}`,
      value,
      '--checkpoint',
      checkpoint,
      '--out',
      join(root, 'out'),
    ];
    const r = await cli(args, env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    if (command === 'digits') assert.match(r.stderr, /--steps must be an integer from 1 to 300/);
    else
      assert.ok(r.stderr.includes(message), `${args.join(' ')}: chat says "${message}", the CLI "${r.stderr.trim()}"`);
  }
});
