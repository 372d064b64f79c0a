// The training progress line's time left: rounded before it is split, so it never reads `60s`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatEta } from '../../../src/cli/commands/train.js';

test('formatEta rounds first and carries into minutes and hours', () => {
  assert.equal(formatEta(0), '0s');
  assert.equal(formatEta(44.6), '45s');
  assert.equal(formatEta(59.6), '1m00s');
  assert.equal(formatEta(725), '12m05s');
  assert.equal(formatEta(45_779.7), '12h43m00s');
  assert.equal(formatEta(3599.5), '1h00m00s');
  assert.equal(formatEta(-3), '0s');
});
