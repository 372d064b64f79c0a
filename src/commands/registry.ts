// The loader: command name → module, in the order /help and the front ends list them. Adding a
// command is one file and one line here.
import type { Command } from './command.js';
import { command as imagine } from './imagine.js';
import { command as denoise } from './denoise.js';
import { command as edit } from './edit.js';
import { command as inpaint } from './inpaint.js';
import { command as anagram } from './anagram.js';
import { command as hybrid } from './hybrid.js';
import { command as digits } from './digits.js';
import { command as train } from './train.js';
import { command as checkpoints } from './checkpoints.js';
import { command as gallery } from './gallery.js';
import { command as job } from './job.js';
import { command as queue } from './queue.js';
import { command as cancel } from './cancel.js';
import { command as help } from './help.js';

const ALL: readonly Command[] = [imagine, denoise, edit, inpaint, anagram, hybrid, digits, train, checkpoints, gallery, job, queue, cancel, help];

export function loadCommands(): ReadonlyMap<string, Command> {
  return new Map(ALL.map((c) => [c.definition.name, c]));
}
