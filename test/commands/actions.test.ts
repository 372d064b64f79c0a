// The actions table: its buttons, Discord's private verbs, and each verb run on a real store and
// queue (the jobs are finished by hand, as a worker would).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  ACTIONS,
  isPrivateAction,
  parseActionId,
  postButtons,
  resultButtons,
  type ActionEnv,
} from '../../src/commands/actions.js';
import { defaultInputLimits, type CommandContext, type JobCommand, type JobPlan } from '../../src/commands/command.js';
import type { OptionValue, Reply } from '../../src/commands/contract.js';
import { loadCommands } from '../../src/commands/registry.js';
import { InputError } from '../../src/engine/errors.js';
import { SqliteQueue } from '../../src/jobs/sqlite-queue.js';
import type { Store } from '../../src/store/index.js';
import { openTestStore } from '../helpers/open-test-store.js';

const commands = loadCommands();
const alice = { platform: 'web' as const, userId: 'alice' };
const bob = { platform: 'web' as const, userId: 'bob' };

test('every verb is listed once; ids are "<verb>:<number>"; confirmations are private, job starters public', () => {
  assert.equal(new Set(ACTIONS.map((a) => a.verb)).size, ACTIONS.length);
  assert.deepEqual(
    ACTIONS.filter((a) => !a.private).map((a) => a.verb),
    ['reroll', 'more', 'vary'],
  );
  assert.equal(isPrivateAction('publish:3'), true);
  assert.equal(isPrivateAction('unvote:3'), true);
  assert.equal(isPrivateAction('reroll:3'), false);
  assert.equal(isPrivateAction('nonsense'), false);
  assert.equal(parseActionId('vote:12').target, 12);
  assert.throws(
    () => parseActionId('vote:x'),
    (e: unknown) => e instanceof InputError && e.message === 'unknown button "vote:x"',
  );
  assert.throws(
    () => parseActionId('launch:1'),
    (e: unknown) => e instanceof InputError && e.message === 'unknown button "launch"',
  );
});

test("a result gets more steps and variations only where its command offers them; a post's remove button only for its author or an admin", () => {
  const imagine = commands.get('imagine') as JobCommand;
  const digits = commands.get('digits') as JobCommand;
  assert.deepEqual(
    resultButtons(5, imagine, { steps: 33 }).map((b) => b.id),
    ['reroll:5', 'more:5', 'vary:5', 'publish:5', 'delete:5'],
  );
  assert.deepEqual(
    resultButtons(5, digits, { steps: 300 }).map((b) => b.id),
    ['reroll:5', 'publish:5', 'delete:5'],
    'at the step limit, and digits have no variations',
  );
  const post = { id: 2, jobId: 9, votes: 3 } as Parameters<typeof postButtons>[0];
  assert.deepEqual(postButtons(post, false), [{ id: 'vote:9', label: '▲ 3', style: 'secondary' }]);
  assert.deepEqual(
    postButtons(post, true).map((b) => b.id),
    ['vote:9', 'unpublish:2'],
  );
});

/** A finished /digits job of `who` with one picture. */
async function finishedJob(queue: SqliteQueue, who: typeof alice): Promise<number> {
  const { jobId } = await queue.enqueue({
    who,
    command: 'digits',
    params: { digit: 7, steps: 50, checkpoint: 'mnist-class', checkpointPath: '/m/c.safetensors' },
    seed: 42,
    model: 'mnist-class',
  });
  const worker = await queue.registerWorker();
  await queue.claim(worker);
  await queue.complete(jobId, { files: [{ data: Buffer.from(`png of ${jobId}`), ext: 'png', caption: 'digits' }] }, 1);
  return jobId;
}

interface Pressed {
  replies: Reply[];
  reruns: Array<{ command: string; plan: JobPlan }>;
  handled: Array<{ command: string; options: Record<string, OptionValue> }>;
}

function press(
  store: Store,
  queue: SqliteQueue,
  t: TestContext,
  who: typeof alice,
  id: string,
  isAdmin = false,
): Promise<Pressed> {
  const pressed: Pressed = { replies: [], reruns: [], handled: [] };
  const ctx = {
    requester: who,
    who,
    isAdmin,
    limits: defaultInputLimits,
    store,
    queue,
    commands,
    dataDir: '/data',
    newSeed: () => 7,
    saveImage: async () => assert.fail('no uploads here'),
  } as unknown as CommandContext;
  const { action, target } = parseActionId(id);
  const env: ActionEnv = {
    target,
    ctx,
    rerun: async (command, plan) => void pressed.reruns.push({ command: command.definition.name, plan }),
    handle: async (command, options) => void pressed.handled.push({ command, options }),
    reply: async (r) => void pressed.replies.push(r),
  };
  void t;
  return action.run(env).then(() => pressed);
}

test('reroll takes a new seed, more doubles the steps with the same seed, vary asks /edit for the first picture', async (t) => {
  const store = openTestStore(t);
  const queue = new SqliteQueue(store);
  const job = await finishedJob(queue, alice);
  const reroll = await press(store, queue, t, alice, `reroll:${job}`);
  assert.deepEqual(
    reroll.reruns.map((r) => [r.command, r.plan.seed, r.plan.model]),
    [['digits', 7, 'mnist-class']],
  );
  const more = await press(store, queue, t, alice, `more:${job}`);
  assert.deepEqual(
    more.reruns.map((r) => [r.plan.seed, r.plan.params.steps]),
    [[42, 100]],
  );
  await assert.rejects(
    press(store, queue, t, alice, `vary:${job}`),
    (e: unknown) => e instanceof InputError && /has no variations/.test(e.message),
  );
  await assert.rejects(
    press(store, queue, t, alice, 'reroll:999'),
    (e: unknown) => e instanceof InputError && e.code === 'not-found',
  );

  const { jobId: imagine } = await queue.enqueue({
    who: alice,
    command: 'imagine',
    params: { prompt: '3', model: 'mnist-flow', checkpoint: 'mnist-class', steps: 33 },
    seed: 1,
  });
  await queue.claim(await queue.registerWorker());
  await queue.complete(imagine, { files: [{ data: Buffer.from('picture'), ext: 'png', caption: 'image' }] }, 1);
  const vary = await press(store, queue, t, bob, `vary:${imagine}`);
  assert.equal(vary.handled.length, 1);
  const { command, options } = vary.handled[0]!;
  assert.equal(command, 'edit');
  assert.deepEqual(
    { ...options, image: undefined },
    { image: undefined, i_start: 10, prompt: '3', model: 'mnist-class' },
  );
  assert.equal((await (options.image as { fetch(): Promise<Buffer> }).fetch()).toString(), 'picture');
});

test('publish, vote, unvote, unpublish and delete answer privately and keep to their owners', async (t) => {
  const store = openTestStore(t);
  const queue = new SqliteQueue(store);
  const job = await finishedJob(queue, alice);
  const text = (p: Pressed): string => (p.replies[0] as { text: string }).text;
  await assert.rejects(press(store, queue, t, bob, `publish:${job}`), /only the author/);
  assert.match(text(await press(store, queue, t, alice, `publish:${job}`)), /in the gallery as post #\d+/);
  assert.match(text(await press(store, queue, t, bob, `vote:${job}`)), /^Voted for post #\d+ \(1 vote\)\.$/);
  assert.match(text(await press(store, queue, t, bob, `vote:${job}`)), /already voted .*\(1 vote\)/);
  assert.match(
    text(await press(store, queue, t, bob, `unvote:${job}`)),
    /^Vote taken back from post #\d+ \(0 votes\)\.$/,
  );
  const post = store.gallery.getByJob(job)!;
  await assert.rejects(press(store, queue, t, bob, `unpublish:${post.id}`));
  assert.match(text(await press(store, queue, t, alice, `unpublish:${post.id}`)), /was removed from the gallery/);
  await assert.rejects(
    press(store, queue, t, bob, `delete:${job}`),
    (e: unknown) => e instanceof InputError && e.code === 'not-allowed',
  );
  const del = await press(store, queue, t, alice, `delete:${job}`);
  assert.equal((del.replies[0] as { deleteResultOf?: number }).deleteResultOf, job);
  assert.equal(store.jobs.get(job), undefined);
  assert.ok(del.replies.every((r) => r.type === 'info' && r.private));
});
