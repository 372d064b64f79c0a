// /help [command]: what each command does and its options, from the same definitions that the
// front ends register, so help never drifts from what is accepted.
import type { OptionDef } from './contract.js';
import type { ReplyCommand } from './command.js';
import { InputError } from '../engine/errors.js';
import { str } from './options.js';

function describeOption(o: OptionDef): string {
  const range = o.min !== undefined || o.max !== undefined ? ` [${o.min ?? ''}…${o.max ?? ''}]` : '';
  const choices = o.choices ? ` (${o.choices.map((c) => String(c.value)).join(', ')})` : '';
  return `  ${o.name}${o.required ? '' : '?'}: ${o.type}${range}${choices} — ${o.description}`;
}

export const command: ReplyCommand = {
  definition: {
    name: 'help',
    description: 'what the commands do and their options',
    replies: 'private',
    options: [{ name: 'command', type: 'string', description: 'one command to explain', maxLength: 32 }],
  },
  async execute(options, ctx) {
    const name = str(options, 'command')?.replace(/^\//, '');
    const visible = [...ctx.commands.values()].filter((c) => !c.definition.adminOnly || ctx.isAdmin);
    if (name) {
      const c = ctx.commands.get(name);
      if (!c || (c.definition.adminOnly && !ctx.isAdmin)) {
        throw new InputError(
          `there is no command /${name}`,
          `commands: ${visible.map((v) => v.definition.name).join(', ')}`,
          'unknown-command',
        );
      }
      const d = c.definition;
      return {
        type: 'info',
        title: `/${d.name}`,
        text: [d.description, ...d.options.map(describeOption)].join('\n'),
        private: true,
      };
    }
    const lines = visible.map((c) => `/${c.definition.name} — ${c.definition.description}`);
    lines.push(
      '',
      'Every image comes with its seed: the same seed and options give the same image. /help command:<name> lists options.',
    );
    return { type: 'info', title: 'Illusionist commands', text: lines.join('\n'), private: true };
  },
};
