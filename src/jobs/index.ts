// The job system's public surface: specs and results, the Queue contract and its SQLite default,
// the engine worker runner, shutdown handling, and the functions behind the jobs/gallery CLI.
export * from './cli-actions.js';
export * from './follow-job.js';
export * from './handler.js';
export * from './job-runner.js';
export * from './queue.js';
export * from './shutdown.js';
export * from './sqlite-queue.js';
export * from './types.js';
export * from './wait-for-job.js';
export * from './wake.js';
