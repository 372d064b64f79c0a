// /job id: one job's record: who, what, seed and parameters, status, position or progress.
import type { ReplyCommand } from './command.js';
import { InputError } from '../engine/errors.js';
import { num } from './options.js';
import { jobCommandOf, promptOfJob, splitParams } from './command.js';
import { displayNameOf } from './presentation.js';

function isUpload(v: unknown): v is { width: number; height: number; sourceWidth?: number; sourceHeight?: number } {
  return typeof v === 'object' && v !== null && typeof (v as { width?: unknown }).width === 'number';
}

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
    if (!job)
      throw new InputError(`there is no job #${id}`, 'a job number from a result caption or /queue', 'not-found');
    const fields = [
      { name: 'command', value: `/${job.command}` },
      { name: 'status', value: job.status + (job.position !== undefined ? ` (position ${job.position})` : '') },
      { name: 'seed', value: String(job.seed) },
      { name: 'by', value: displayNameOf(ctx.store, { platform: job.platform, userId: job.userId }) },
    ];
    const prompt = promptOfJob(ctx.commands, job.command, job.params);
    if (prompt) fields.push({ name: 'prompt', value: prompt });
    if (job.model) fields.push({ name: 'model', value: job.model });
    if (job.progressStep !== null) fields.push({ name: 'progress', value: `${job.progressStep}/${job.progressTotal}` });
    if (job.error) fields.push({ name: 'error', value: job.error });
    // Server paths and upload hashes are not for the asker (who may not be the author): uploads show their size only.
    const { shown, hidden } = splitParams(jobCommandOf(ctx.commands, job.command), job.params);
    const lines = Object.entries(shown).map(
      ([k, v]) =>
        `${k}: ${Array.isArray(v) ? v.map(String).join(', ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`,
    );
    for (const [k, v] of Object.entries(hidden))
      if (isUpload(v)) lines.push(`${k}: an upload (${v.sourceWidth ?? v.width}×${v.sourceHeight ?? v.height})`);
    return { type: 'info', title: `Job #${id}`, text: lines.join('\n'), fields, private: true };
  },
};
