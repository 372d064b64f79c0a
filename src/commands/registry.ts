// The loader: command name → module, in the order /help and the front ends list them. Adding a
// command is one file and one line here; the Part A techniques come from src/techniques.
import type { Command } from './command.js';
import { TECHNIQUES } from '../techniques/registry.js';
import { techniqueCommand } from './technique-command.js';
import { command as digits } from './digits.js';
import { command as train } from './train.js';
import { command as checkpoints } from './checkpoints.js';
import { command as gallery } from './gallery.js';
import { command as job } from './job.js';
import { command as queue } from './queue.js';
import { command as cancel } from './cancel.js';
import { command as help } from './help.js';

const ALL: readonly Command[] = [
  ...TECHNIQUES.map((t) => techniqueCommand(t.name)),
  digits,
  train,
  checkpoints,
  gallery,
  job,
  queue,
  cancel,
  help,
];

export function loadCommands(): ReadonlyMap<string, Command> {
  return new Map(ALL.map((c) => [c.definition.name, c]));
}
