// /job id: one job's record: who, what, seed and parameters, status, position or progress.
import type { ReplyCommand } from './command.js';
import { CommandError } from './errors.js';
import { num } from './options.js';
import { promptOf } from './presentation.js';

export const command: ReplyCommand = {
  definition: {
    name: 'job',
    description: 'show a job: parameters, seed, status',
    replies: 'private',
    options: [{ name: 'id', type: 'integer', description: 'the job number', required: true, min: 1 }],
  },
  async execute(options, ctx) {
    const id = num(options, 'id')!;
    const job = await ctx.queue.get(id);
    if (!job) throw new CommandError('not-found', `there is no job #${id}`, 'a job number from a result caption or /queue');
    const fields = [
      { name: 'command', value: `/${job.command}` },
      { name: 'status', value: job.status + (job.position !== undefined ? ` (position ${job.position})` : '') },
      { name: 'seed', value: String(job.seed) },
      { name: 'by', value: `${job.platform}:${job.userId}` },
    ];
    const prompt = promptOf(job.params);
    if (prompt) fields.push({ name: 'prompt', value: prompt });
    if (job.model) fields.push({ name: 'model', value: job.model });
    if (job.progressStep !== null) fields.push({ name: 'progress', value: `${job.progressStep}/${job.progressTotal}` });
    if (job.error) fields.push({ name: 'error', value: job.error });
    const { checkpointPath: _path, storePath: _store, dataDir: _data, ...shown } = (job.params ?? {}) as Record<string, unknown>;
    return { type: 'info', title: `Job #${id}`, text: JSON.stringify(shown), fields, private: true };
  },
};
