// `illusionist <command> [options]`: the command-line front end. Its commands and option names
// mirror the chat commands; a user mistake is one line on stderr and exit code 2.
import { Command, CommanderError } from 'commander';
import { registerTrain } from './commands/train.js';
import { registerDigits } from './commands/digits.js';
import { registerExportModel } from './commands/export-model.js';
import { registerEmbed } from './commands/embed.js';
import { registerDeepfloyd } from './commands/deepfloyd.js';
import { TECHNIQUES } from '../techniques/registry.js';
import { registerTechnique } from './technique-options.js';
import { registerGallery, registerJobs } from './commands/jobs.js';
import { isUserMistake } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('illusionist')
    .description('Images from diffusion and flow-matching models: DeepFloyd IF techniques and MNIST flow matching')
    .showHelpAfterError(false)
    .exitOverride();
  registerTrain(program);
  registerDigits(program);
  registerExportModel(program);
  registerEmbed(program);
  registerDeepfloyd(program);
  for (const t of TECHNIQUES) registerTechnique(program, t);
  registerJobs(program);
  registerGallery(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message (unknown option, missing argument, help)
      return err.exitCode === 0 ? 0 : 2;
    }
    if (isUserMistake(err)) {
      const allowed = 'allowed' in err && typeof err.allowed === 'string' ? ` — allowed: ${err.allowed}` : '';
      process.stderr.write(`error: ${err.message}${allowed}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`error: ${e.message}\n`);
    if (process.env.ILLUSIONIST_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
