// `illusionist <command> [options]`: the command-line front end. Its commands and option names
// mirror the chat commands; a user mistake is one line on stderr and exit code 2.
import { Command, CommanderError } from 'commander';
import { registerTrain } from './commands/train.js';
import { registerDigits } from './commands/digits.js';
import { registerExportModel } from './commands/export-model.js';
import { registerEmbed } from './commands/embed.js';
import { registerImagine } from './commands/imagine.js';
import { registerDenoise } from './commands/denoise.js';
import { registerEdit } from './commands/edit.js';
import { registerInpaint } from './commands/inpaint.js';
import { registerAnagram } from './commands/anagram.js';
import { registerHybrid } from './commands/hybrid.js';
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
  registerImagine(program);
  registerDenoise(program);
  registerEdit(program);
  registerInpaint(program);
  registerAnagram(program);
  registerHybrid(program);
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
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`error: ${e.message}\n`);
    if (process.env.ILLUSIONIST_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
