// Multithreaded wasm for TensorFlow.js in Node: instantiates the threaded-SIMD build with real
// worker files and registers it as the 'wasm' backend (tf.ts decides when).
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

// Multithreaded wasm in Node. tfjs-backend-wasm switches its threaded build off in Node
// (WASM_HAS_MULTITHREAD_SUPPORT is false there) because it starts Emscripten's pthread workers
// from `blob:` URLs, which Node's worker_threads cannot load. We instantiate the threaded build
// ourselves from its Emscripten glue (wasm-out/…-threaded-simd.js) with real files for the
// worker script and the main script, and hand the module to the package's own BackendWasm, so
// every wasm kernel (and ours) runs unchanged. ILLUSIONIST_TF_THREADS=1 turns this off.

/** Threads to ask for: ILLUSIONIST_TF_THREADS (1 = single-threaded build), else the cores, at most 8. */
export function wantedWasmThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ILLUSIONIST_TF_THREADS?.trim();
  if (raw) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`ILLUSIONIST_TF_THREADS must be a positive integer, got '${raw}'`);
    return Math.min(n, MAX_WASM_THREADS);
  }
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, MAX_WASM_THREADS));
}

/** The threaded build pre-creates 8 pthread workers and its C side caps the pool there. */
const MAX_WASM_THREADS = 8;
const THREADED_START_TIMEOUT_MS = 30_000;

interface EmscriptenWorker {
  unref(): void;
  terminate(): unknown;
}
interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread: { runningWorkers: EmscriptenWorker[]; unusedWorkers: EmscriptenWorker[]; terminateAllThreads(): void };
  tfjs?: Record<string, unknown>;
}

/** Writes the pthread worker script (embedded in the package as a string) to a cache file once. */
function threadedWorkerFile(source: string): string {
  const base = process.env.ILLUSIONIST_TF_WORKER_DIR || join(os.tmpdir(), 'illusionist-tfjs-wasm');
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const file = join(base, `pthread-worker-${hash}.cjs`);
  if (existsSync(file) && readFileSync(file, 'utf8') === source) return file;
  mkdirSync(base, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, source);
  renameSync(tmp, file); // atomic: concurrent processes never see a half-written worker
  return file;
}

/**
 * Starts the threaded-SIMD wasm module with `wanted` threads and registers it as the 'wasm'
 * backend. Returns the thread count it runs with; throws (leaving the stock single-threaded
 * 'wasm' backend registered) when threads cannot start here.
 */
export async function installThreadedWasm(wanted: number): Promise<number> {
  if (typeof SharedArrayBuffer === 'undefined') throw new Error('no SharedArrayBuffer');
  const require = createRequire(import.meta.url);
  const mainScript = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const wasmFile = join(dirname(mainScript), 'tfjs-backend-wasm-threaded-simd.wasm');
  const factory = require(mainScript) as (cfg: object) => Promise<ThreadedModule>;
  const { wasmWorkerContents } =
    require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as {
      wasmWorkerContents: string;
    };
  // The package escapes newlines the same way before making its Blob.
  const workerFile = threadedWorkerFile(wasmWorkerContents.replace(/\n/g, '\\n'));

  // The C side caps the pool at emscripten_num_logical_cores() / 2 (it assumes hyper-threading),
  // read once by a static initialiser from os.cpus().length: report 2× the wanted count while
  // the module starts, then restore os.cpus.
  const realCpus = os.cpus;
  const cpus = realCpus.call(os);
  os.cpus = () =>
    Array.from({ length: Math.max(2 * wanted, cpus.length) }, (_, i) => cpus[i % Math.max(1, cpus.length)]!);
  let module: ThreadedModule | undefined;
  let timer: NodeJS.Timeout | undefined;
  const pending = factory({
    locateFile: (path: string, prefix: string) =>
      path.endsWith('.worker.js') ? workerFile : path.endsWith('.wasm') ? wasmFile : prefix + path,
    mainScriptUrlOrBlob: mainScript, // the workers importScripts() this file
    printErr: (text: string) => console.warn(`[tfjs-wasm] ${text}`),
  });
  try {
    module = await Promise.race([
      pending,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`threaded module did not start within ${THREADED_START_TIMEOUT_MS / 1000} s`)),
          THREADED_START_TIMEOUT_MS,
        );
        timer.unref();
      }),
    ]);
  } catch (e) {
    void pending.then(
      (m) => m.PThread.terminateAllThreads(),
      () => undefined,
    );
    throw e;
  } finally {
    clearTimeout(timer);
    os.cpus = realCpus;
  }
  try {
    const initWithThreadsCount = module.cwrap('init_with_threads_count', null, ['number']);
    const getThreadsCount = module.cwrap('get_threads_count', 'number', []);
    initWithThreadsCount(wanted);
    const threads = getThreadsCount();
    // Pool threads park in the workers forever: never let them keep the process alive.
    for (const w of [...module.PThread.runningWorkers, ...module.PThread.unusedWorkers]) w.unref();
    if (threads < 2 || module.PThread.runningWorkers.length !== threads - 1) {
      throw new Error(
        `thread pool has ${threads} thread(s) and ${module.PThread.runningWorkers.length} running worker(s), wanted ${wanted}`,
      );
    }
    module.tfjs = {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: () => undefined, // the pool above is the backend's pool
      getThreadsCount,
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    };
  } catch (e) {
    module.PThread.terminateAllThreads();
    throw e;
  }
  const ready = module;
  // biome-ignore lint/suspicious/noExplicitAny: the wasm backend's constructor takes the emscripten module, which it does not type
  const backend = new BackendWasm(ready as any);
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => backend, 2);
  return (ready.tfjs!.getThreadsCount as () => number)();
}
