// `illusionist <command> [options]`: the command-line front end. Its commands and option names
// mirror the chat commands; a user mistake is one line on stderr and exit code 2.
import { Command, CommanderError } from 'commander';
import { InputError } from '../engine/errors.js';
import { discardPreparedEngine, prepareEngine } from './prepared-engine.js';

type Register = (program: Command) => void;

/**
 * The commands, loaded on demand: each module pulls in its engine (training loads tfjs, the Redis
 * worker bullmq, the techniques DeepFloyd's pipeline), which takes seconds a command that names
 * another one never needs. In the order help lists them.
 */
const COMMANDS: ReadonlyArray<readonly [name: string | undefined, load: () => Promise<Register[]>]> = [
  ['train', async () => [(await import('./commands/train.js')).registerTrain]],
  ['digits', async () => [(await import('./commands/digits.js')).registerDigits]],
  ['export-model', async () => [(await import('./commands/export-model.js')).registerExportModel]],
  ['embed', async () => [(await import('./commands/embed.js')).registerEmbed]],
  ['deepfloyd', async () => [(await import('./commands/deepfloyd.js')).registerDeepfloyd]],
  // The techniques register under their own names (imagine, denoise, …), listed by their registry.
  [
    undefined,
    async () => {
      const [{ TECHNIQUES }, { registerTechnique }] = await Promise.all([
        import('../techniques/registry.js'),
        import('./technique-options.js'),
      ]);
      return TECHNIQUES.map((t) => (program: Command) => registerTechnique(program, t));
    },
  ],
  ['jobs', async () => [(await import('./commands/jobs.js')).registerJobs]],
  ['gallery', async () => [(await import('./commands/jobs.js')).registerGallery]],
  ['worker', async () => [(await import('./commands/worker.js')).registerWorker]],
];

/**
 * The program with every command, or, when `argv` starts with a command named above, with that one
 * alone (its options, help and errors are the same either way).
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('illusionist')
    .description('Images from diffusion and flow-matching models: DeepFloyd IF techniques and MNIST flow matching')
    .showHelpAfterError(false)
    .exitOverride();
  const named = COMMANDS.find(([name]) => name !== undefined && name === argv[0]);
  const chosen = named ? [named] : COMMANDS;
  const registers = await Promise.all(chosen.map(([, load]) => load()));
  for (const register of registers.flat()) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    prepareEngine(argv[0]);
    const program = await buildProgram(argv);
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message (unknown option, missing argument, help)
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof InputError) {
      const allowed = err.allowed !== undefined ? ` — allowed: ${err.allowed}` : '';
      process.stderr.write(`error: ${err.message}${allowed}\n`);
      return 2;
    }
    const e = err as Error;
    process.stderr.write(`error: ${e.message}\n`);
    if (process.env.ILLUSIONIST_DEBUG) process.stderr.write(`${e.stack}\n`);
    return 1;
  } finally {
    await discardPreparedEngine();
  }
}
