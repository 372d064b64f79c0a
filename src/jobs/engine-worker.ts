// The engine worker thread: loads handler modules, runs one job at a time (plus a paused training
// run), and talks to the runner by messages, so numeric work never blocks the main event loop.
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { countNativeCallsInto } from '../engine/runtime/native-calls.js';
import { JobStoppedError, type HandlerRegistry, type JobContext, type JobHandler } from './handler.js';
import { flagPause, readStopReason, type EngineWorkerData, type FromWorker, type ToWorker } from './worker-protocol.js';

interface Running {
  readonly flags: Int32Array;
  readonly controller: AbortController;
  resume?: (() => void) | undefined;
}

const port = parentPort;
if (port === null) throw new Error('engine-worker.js must be started as a worker thread');
const post = (message: FromWorker) => port.postMessage(message);

/** What handler modules give back at exit (their cached models: onnxruntime sessions, a store connection). */
const disposers: Array<() => Promise<void> | void> = [];
/** What handler modules load ahead of a job of the commands named (their engines' modules). */
const warmers: Array<(commands: readonly string[]) => Promise<void>> = [];

async function loadRegistry(modules: readonly string[]): Promise<Map<string, JobHandler>> {
  const registry = new Map<string, JobHandler>();
  for (const spec of modules) {
    const url = spec.startsWith('file:') ? spec : pathToFileURL(spec).href;
    const mod = (await import(url)) as {
      handlers?: HandlerRegistry;
      default?: HandlerRegistry;
      dispose?: () => Promise<void> | void;
      warm?: (commands: readonly string[]) => Promise<void>;
    };
    if (mod.dispose) disposers.push(mod.dispose);
    if (mod.warm) warmers.push(mod.warm);
    const handlers = mod.handlers ?? mod.default;
    if (handlers === undefined)
      throw new Error(`handler module ${spec} exports neither "handlers" nor a default registry`);
    for (const [command, handler] of Object.entries(handlers)) {
      if (registry.has(command)) throw new Error(`command "${command}" is registered twice (again in ${spec})`);
      registry.set(command, handler);
    }
  }
  return registry;
}

const running = new Map<number, Running>();

function makeContext(jobId: number, entry: Running): JobContext {
  const throwIfStopped = () => {
    const reason = readStopReason(entry.flags);
    if (reason !== undefined) {
      entry.controller.abort(new JobStoppedError(reason));
      throw new JobStoppedError(reason);
    }
  };
  const ctx: JobContext = {
    signal: entry.controller.signal,
    async progress(step, total, options) {
      post({ type: 'progress', jobId, step, total, message: options?.message, preview: options?.preview });
      await ctx.yieldPoint();
    },
    async yieldPoint() {
      // One macrotask turn lets queued messages (stop, resume) in; the flags are read directly.
      await new Promise<void>((resolve) => setImmediate(resolve));
      throwIfStopped();
      if (Atomics.compareExchange(entry.flags, flagPause, 1, 0) === 1) {
        const resumed = new Promise<void>((resolve) => (entry.resume = resolve));
        post({ type: 'yielded', jobId });
        await resumed;
        entry.resume = undefined;
        throwIfStopped();
      }
    },
    saveState(state) {
      post({ type: 'state', jobId, state });
    },
  };
  return ctx;
}

async function runJob(message: Extract<ToWorker, { type: 'run' }>, registry: Map<string, JobHandler>): Promise<void> {
  const { input } = message;
  const entry: Running = { flags: new Int32Array(message.flags), controller: new AbortController() };
  running.set(input.jobId, entry);
  const started = performance.now();
  try {
    const handler = registry.get(input.command);
    if (handler === undefined) {
      const known = [...registry.keys()].sort().join(', ') || 'none';
      throw new Error(`no engine handler for command "${input.command}" (registered: ${known})`);
    }
    const output = await handler(input, makeContext(input.jobId, entry));
    post({ type: 'done', jobId: input.jobId, output, handlerMs: performance.now() - started });
  } catch (error) {
    // A handler that gives up because its signal was aborted is stopped, not failed.
    const stopReason = error instanceof JobStoppedError ? error.reason : readStopReason(entry.flags);
    const text = error instanceof Error ? error.message : String(error);
    post({ type: 'failed', jobId: input.jobId, error: text, stopReason });
  } finally {
    running.delete(input.jobId);
  }
}

try {
  const { handlerModules, nativeCalls, warm } = workerData as EngineWorkerData;
  countNativeCallsInto(nativeCalls);
  const registry = await loadRegistry(handlerModules);
  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'run':
        void runJob(message, registry);
        break;
      case 'stop': {
        const entry = running.get(message.jobId);
        const reason = entry && readStopReason(entry.flags);
        if (entry && reason) entry.controller.abort(new JobStoppedError(reason));
        entry?.resume?.();
        break;
      }
      case 'resume':
        running.get(message.jobId)?.resume?.();
        break;
      case 'exit':
        // Native objects are released here, in order, while the thread still runs: ending it with
        // terminate() instead tears them down mid-flight, which can abort the whole process.
        void Promise.allSettled(disposers.map((d) => d())).then(() => port.close());
        break;
    }
  });
  post({ type: 'ready', commands: [...registry.keys()].sort() });
  // Best effort: a module that fails to load here fails its job the same way, with its message.
  if (warm?.length) for (const w of warmers) w(warm).catch(() => {});
} catch (error) {
  post({ type: 'load-failed', error: error instanceof Error ? error.message : String(error) });
}
