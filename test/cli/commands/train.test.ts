// The training command's pieces: the progress line's time left (rounded before it is split, so it
// never reads `60s`), and the one set of limits that the CLI, chat's /train and the trainer share.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatEta } from '../../../src/cli/commands/train.js';
import { command as chatTrain } from '../../../src/commands/train.js';
import {
  defaultSettings,
  TRAIN_LIMITS,
  validateSettings,
  type LimitedSetting,
} from '../../../src/engine/flow/train-settings.js';

test('formatEta rounds first and carries into minutes and hours', () => {
  assert.equal(formatEta(0), '0s');
  assert.equal(formatEta(44.6), '45s');
  assert.equal(formatEta(59.6), '1m00s');
  assert.equal(formatEta(725), '12m05s');
  assert.equal(formatEta(45_779.7), '12h43m00s');
  assert.equal(formatEta(3599.5), '1h00m00s');
  assert.equal(formatEta(-3), '0s');
});

const bin = fileURLToPath(new URL('../../../src/cli/bin.js', import.meta.url));
/** Just past each limit's top, and the kind whose flags include it. */
const pastTop: Record<LimitedSetting, { value: number; kind: 'class' | 'time' | 'denoiser' }> = {
  epochs: { value: 1001, kind: 'class' },
  hidden: { value: 513, kind: 'class' },
  batch: { value: 4097, kind: 'class' },
  lr: { value: 11, kind: 'class' },
  sigma: { value: 11, kind: 'denoiser' },
  ema: { value: 1, kind: 'time' },
};

test('the CLI, chat /train and the trainer refuse the same values, each naming the one range', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'illusionist-train-limits-'));
  const chat = new Map(chatTrain.definition.options.map((o) => [o.name, o]));
  for (const name of Object.keys(TRAIN_LIMITS) as LimitedSetting[]) {
    const { min, max, integer } = TRAIN_LIMITS[name];
    const range = `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`;
    const { value, kind } = pastTop[name];
    assert.ok(value > max, `${name}: ${value} lies past ${max}`);
    // Chat declares the setting it offers with the same bounds (its front ends and validator enforce them).
    const option = chat.get(name);
    if (option) assert.deepEqual([option.min, option.max], [min, max], `/train ${name}`);
    const r = spawnSync(process.execPath, [bin, 'train', '--kind', kind, `--${name}`, String(value)], {
      encoding: 'utf8',
      env: { ...process.env, DATA_DIR: dataDir },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--${name} must be ${range}, got '${value}'`));
    assert.throws(
      () => validateSettings({ ...defaultSettings(kind), [name]: value }),
      new RegExp(`--${name} must be ${range}, got ${value}`),
    );
  }
  assert.deepEqual(
    [...chat.keys()].filter((n) => n in TRAIN_LIMITS),
    ['epochs', 'hidden', 'batch', 'lr', 'ema'],
    'chat offers these limited settings',
  );
});
