// The app's one door to TensorFlow.js: picks the fastest loadable backend for training. Its two
// parts, imported by nothing else: tf-wasm-threads.ts (threaded wasm in Node), tf-kernels.ts.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
// @tensorflow/tfjs (not bare tfjs-core) because its bundle registers the gradients and the cpu backend.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels } from './tf-kernels.js';
import { installThreadedWasm, wantedWasmThreads } from './tf-wasm-threads.js';

export { tf };
export { wantedWasmThreads } from './tf-wasm-threads.js';
export {
  conv2DBackpropFilterWasm,
  conv2DBackpropInputWasm,
  identityWasm,
  castWasm,
  registerWasmTrainingKernels,
} from './tf-kernels.js';

export type TfBackendName = 'tensorflow' | 'wasm' | 'cpu';
export type TfBackendChoice = 'auto' | TfBackendName;

export interface TfRuntime {
  tf: typeof tf;
  backend: TfBackendName;
  /** Human-readable description for logs ("wasm (SIMD, 1 thread, project kernels)"). */
  description: string;
}

let initialised: Promise<TfRuntime> | undefined;
let initialisedChoice: TfBackendChoice | undefined;

/**
 * Starts TensorFlow.js once per process. 'auto' prefers the native bindings
 * (@tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node) when they are installed and load,
 * else the wasm backend with the project's kernels. Never falls back silently to 'cpu'.
 */
export function initTf(choice: TfBackendChoice = 'auto'): Promise<TfRuntime> {
  if (initialised) {
    if (choice !== 'auto' && initialisedChoice !== choice && initialisedChoice !== 'auto') {
      return Promise.reject(
        new Error(`TensorFlow.js already started with backend '${initialisedChoice}', cannot switch to '${choice}'`),
      );
    }
    return initialised;
  }
  initialisedChoice = choice;
  initialised = start(choice);
  return initialised;
}

async function start(choice: TfBackendChoice): Promise<TfRuntime> {
  // PROD skips tfjs' per-op debug checks and its "install tfjs-node" banner.
  tf.env().set('PROD', true);
  if (choice === 'auto' || choice === 'tensorflow') {
    const native = await tryNative();
    if (native) return native;
    if (choice === 'tensorflow') {
      throw new Error(
        "backend 'tensorflow' requested but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node could be loaded",
      );
    }
  }
  if (choice === 'cpu') {
    await setBackendOrThrow('cpu');
    return { tf, backend: 'cpu', description: 'cpu (pure JavaScript, slow: for tests only)' };
  }
  const require = createRequire(import.meta.url);
  const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  setWasmPaths(wasmDir.endsWith('/') ? wasmDir : `${wasmDir}/`);
  registerWasmTrainingKernels();
  const wanted = wantedWasmThreads();
  let threads = 1;
  if (wanted > 1) {
    try {
      threads = await installThreadedWasm(wanted);
    } catch (e) {
      console.warn(
        `[illusionist] multithreaded wasm backend unavailable (${(e as Error).message ?? e}); using 1 thread`,
      );
    }
  }
  await setBackendOrThrow('wasm');
  const t = threads === 1 ? '1 thread' : `${threads} threads`;
  return { tf, backend: 'wasm', description: `wasm (XNNPACK, SIMD, ${t}, project conv-training kernels)` };
}

async function setBackendOrThrow(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(
      `TensorFlow.js backend '${name}' failed to start (tf.setBackend returned ${ok}); refusing to fall back to '${tf.getBackend()}'`,
    );
  }
}

async function tryNative(): Promise<TfRuntime | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) {
        return { tf, backend: 'tensorflow', description: `tensorflow (${pkg})` };
      }
    } catch {
      // Optional accelerator: not installed or its native library does not load here.
    }
  }
  return undefined;
}
