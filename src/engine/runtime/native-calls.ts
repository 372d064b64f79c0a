// Native calls in flight on a worker thread, counted in memory that the thread's owner reads.
//
// onnxruntime-node creates, runs and releases a session synchronously on the calling thread. A worker
// terminated in the middle of such a call does not stop the call: it returns into a torn-down
// JavaScript environment, the addon's C++ wrapper throws, and the whole process aborts (SIGABRT,
// "terminate called after throwing an instance of 'Napi::Error'"). So the owner closes the worker to
// new native calls, waits for the running one to return, and only then terminates it.

const IN_FLIGHT = 0;
const CLOSED = 1;

let meter: Int32Array | undefined;

/** Shared memory for one worker's count, given to it in its workerData. */
export function nativeCallMeter(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
}

/** In the worker: count this thread's native calls into `buffer`. */
export function countNativeCallsInto(buffer: SharedArrayBuffer): void {
  meter = new Int32Array(buffer);
}

/**
 * Runs `call` (one that enters native code), counted while its promise is pending. On a thread its
 * owner has closed, the call never starts and the promise never settles: the thread is about to end.
 */
export async function nativeCall<T>(call: () => Promise<T>): Promise<T> {
  const m = meter;
  if (!m) return call();
  // Counted before the check: an owner that saw no call in flight after closing sees none start.
  Atomics.add(m, IN_FLIGHT, 1);
  if (Atomics.load(m, CLOSED) === 1) {
    Atomics.sub(m, IN_FLIGHT, 1);
    return new Promise<never>(() => {});
  }
  try {
    return await call();
  } finally {
    Atomics.sub(m, IN_FLIGHT, 1);
  }
}

/**
 * In the owner: closes the worker to new native calls and resolves once none is running, so that
 * terminate() cannot cut one short. `onWait` is told once if a call is still running. `gone` says the
 * thread has ended: one that died inside a call never counts it down, and nothing is left to wait for.
 */
export async function closeToNativeCalls(
  buffer: SharedArrayBuffer,
  onWait?: () => void,
  gone: () => boolean = () => false,
  pollMs = 20,
): Promise<void> {
  const m = new Int32Array(buffer);
  Atomics.store(m, CLOSED, 1);
  if (Atomics.load(m, IN_FLIGHT) > 0 && !gone()) onWait?.();
  while (Atomics.load(m, IN_FLIGHT) > 0 && !gone()) await new Promise((resolve) => setTimeout(resolve, pollMs));
}
