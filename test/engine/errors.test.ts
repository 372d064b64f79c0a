// The one user-mistake type: every layer's refusals are InputErrors with a code, so each front end
// catches one type (the CLI: exit 2; chat: a private error reply with the code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/engine/errors.js';
import { CheckpointNotFoundError, resolveCheckpoint } from '../../src/engine/flow/checkpoints.js';
import { RunExistsError } from '../../src/engine/flow/trainer.js';
import { MissingModelError, ModelFolder } from '../../src/engine/runtime/onnx.js';
import { boxMask } from '../../src/engine/sampling/inpaint.js';
import { toErrorReply } from '../../src/commands/errors.js';

test("the engine's refusals of what was asked are InputErrors, with the code a front end shows", () => {
  assert.throws(
    () => resolveCheckpoint('no-such-checkpoint', 'class'),
    (e: unknown) =>
      e instanceof CheckpointNotFoundError &&
      e instanceof InputError &&
      e.code === 'invalid-option' &&
      /no checkpoint 'no-such-checkpoint'/.test(e.message),
  );
  assert.ok(new RunExistsError('/runs/a') instanceof InputError);
  assert.throws(
    () => new ModelFolder('/nonexistent/models', { howToProduce: 'run scripts/export.py' }).require('unet.onnx'),
    (e: unknown) => e instanceof MissingModelError && e instanceof InputError && e.code === 'model-not-installed',
  );
  assert.throws(
    () => boxMask(28, 28, { x: 20, y: 0, width: 10, height: 2 }),
    (e: unknown) => e instanceof InputError && /inside the 28×28 image/.test(e.message),
  );
});

test('chat shows an InputError with its code and allowed text, and hides anything else', () => {
  assert.deepEqual(toErrorReply(new InputError('view "spin" is not a view', 'views: flip, …', 'invalid-option')), {
    type: 'error',
    code: 'invalid-option',
    message: 'view "spin" is not a view',
    allowed: 'views: flip, …',
  });
  const logged: unknown[] = [];
  const reply = toErrorReply(new Error('ENOENT /srv/secret/path'), (_m, e) => logged.push(e));
  assert.equal(reply.code, 'internal');
  assert.doesNotMatch(reply.message, /secret/);
  assert.equal(logged.length, 1);
});
