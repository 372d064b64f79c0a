// The CLI's engine worker, started as the command line is read: the thread's start, its modules and
// its engine's (onnxruntime's native library for digits) load on the other core while this thread
// imports the command, parses its options, opens the store and enqueues the job. `illusionist
// digits` reached its first step ~100 ms sooner.
import { fileURLToPath } from 'node:url';
import { discardWorker, prepareWorker, type PreparedWorker } from '../jobs/job-runner.js';

export const ENGINE_HANDLERS = fileURLToPath(new URL('../jobs/engine-handlers.js', import.meta.url));

/** Commands that run an engine job in this process and whose engine engine-handlers' `warm` loads. */
const WARMED = new Set(['digits']);

let prepared: { readonly command: string; readonly worker: PreparedWorker } | undefined;

/** Starts the engine worker for `command` (the first word of the command line) when it is one of WARMED. */
export function prepareEngine(command: string | undefined): void {
  if (command === undefined || !WARMED.has(command) || prepared !== undefined) return;
  prepared = { command, worker: prepareWorker({ handlerModules: [ENGINE_HANDLERS], warm: [command] }) };
}

/** The worker prepared for `command`, handed over once (to the job's runner). */
export function takePreparedEngine(command: string): PreparedWorker | undefined {
  if (prepared?.command !== command) return undefined;
  const { worker } = prepared;
  prepared = undefined;
  return worker;
}

/** Ends a prepared worker no job took (the command stopped at its options, or printed its help). */
export async function discardPreparedEngine(): Promise<void> {
  const left = prepared;
  prepared = undefined;
  if (left) await discardWorker(left.worker);
}
