// Runs queued jobs in the engine worker thread: claims in order, pauses training for interactive
// jobs, enforces time limits and cancellation, survives worker crashes, and shuts down gracefully.
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { closeToNativeCalls, nativeCallMeter } from '../engine/runtime/native-calls.js';
import type { JobKind } from '../store/index.js';
import type { StopReason } from './handler.js';
import type { Queue } from './queue.js';
import type { JobEvent, JobView } from './types.js';
import {
  flagPause,
  flagStop,
  stopCodes,
  type EngineWorkerData,
  type FromWorker,
  type ToWorker,
} from './worker-protocol.js';

export interface JobRunnerOptions {
  /** Modules (absolute paths or file: URLs) exporting `handlers`, loaded in the worker. */
  readonly handlerModules: readonly string[];
  /** How often to look for jobs enqueued by other processes and cancellations from them. Default 250 ms. */
  readonly pollIntervalMs?: number;
  /** After a stop request, how long a handler gets to reach a yield point before its worker is restarted. Default 5 s. */
  readonly stopGraceMs?: number;
  /** Passed to the Worker, so a runaway job hits a heap limit instead of the host's memory. */
  readonly resourceLimits?: ResourceLimits;
  /** A worker started ahead (prepareWorker), used for the first spawn instead of a new one. */
  readonly prepared?: PreparedWorker | undefined;
}

/** An engine worker thread started before its runner, loading its handlers (and warming engines). */
export interface PreparedWorker {
  readonly worker: Worker;
  readonly nativeCalls: SharedArrayBuffer;
  /** Settles when the worker has loaded its handler modules, or rejects as spawning does. */
  readonly ready: Promise<void>;
}

/**
 * Starts an engine worker without taking jobs: the CLI starts it while it reads its options, so the
 * thread's start, its modules and the `warm` commands' engines load meanwhile on another core. The
 * thread does not keep the process alive until a runner takes it (discardWorker ends it otherwise).
 */
export function prepareWorker(
  options: Pick<JobRunnerOptions, 'handlerModules' | 'resourceLimits'> & { warm?: readonly string[] },
): PreparedWorker {
  const nativeCalls = nativeCallMeter();
  const workerData: EngineWorkerData = { handlerModules: options.handlerModules, nativeCalls, warm: options.warm };
  const worker = new Worker(new URL('./engine-worker.js', import.meta.url), {
    workerData,
    resourceLimits: options.resourceLimits,
  });
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') resolve();
      else if (message.type === 'load-failed')
        reject(new Error(`the engine worker could not load its handlers: ${message.error}`));
    });
    // After 'ready' these settle nothing; the runner watches the thread's exit itself.
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`the engine worker exited with code ${code} before it was ready`)));
  });
  ready.catch(() => {}); // the runner awaits it
  // After the listeners: adding one refs the thread again.
  worker.unref();
  return { worker, nativeCalls, ready };
}

/** Ends a prepared worker no runner took: asked to exit, so no native call is cut short, then awaited. */
export async function discardWorker(prepared: PreparedWorker, timeoutMs = 10_000): Promise<void> {
  const { worker } = prepared;
  if (worker.threadId === -1) return;
  // Held open until the thread has ended by itself: the process exiting first would cut it short.
  worker.ref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const exit: ToWorker = { type: 'exit' };
  worker.postMessage(exit);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()))]);
  clearTimeout(timer);
}

interface Slot {
  readonly jobId: number;
  readonly kind: JobKind;
  readonly timeLimitMs: number | null;
  readonly flags: Int32Array;
  stopReason?: StopReason | undefined;
  pauseRequested: boolean;
  timeLimitTimer?: NodeJS.Timeout | undefined;
  killTimer?: NodeJS.Timeout | undefined;
  readonly settled: Promise<void>;
  settle: () => void;
}

export class JobRunner {
  private worker: Worker | undefined;
  /** Each worker's count of native calls in flight (engine/runtime/native-calls.ts). */
  private readonly nativeCalls = new WeakMap<Worker, SharedArrayBuffer>();
  private active: Slot | undefined;
  private paused: Slot | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private workerId = '';
  private lastHeartbeat = 0;
  private unsubscribe: (() => void) | undefined;
  private stopping = false;
  private pumping = false;
  private pumpAgain = false;
  // Worker messages are handled strictly in order (progress before done) on this chain.
  private chain: Promise<void> = Promise.resolve();
  /**
   * Ends of jobs the queue could not record (a full disk refuses even the 'failed' row). They are
   * retried before any new job is taken, so the queue goes on by itself once there is room again.
   */
  private readonly unrecorded: Array<{ readonly jobId: number; readonly write: () => Promise<void> }> = [];
  /** The last complaint logged per kind of failure, so a failing disk is said once, not every poll. */
  private readonly complaints = new Map<string, string>();
  private readonly pollIntervalMs: number;
  private readonly stopGraceMs: number;
  private prepared: PreparedWorker | undefined;

  constructor(
    private readonly queue: Queue,
    private readonly options: JobRunnerOptions,
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.stopGraceMs = options.stopGraceMs ?? 5000;
    this.prepared = options.prepared;
  }

  /** Re-queues what dead processes left running, starts the worker, and begins taking jobs. */
  async start(): Promise<void> {
    this.workerId = await this.queue.registerWorker();
    await this.queue.recoverInterrupted();
    await this.spawnWorker();
    this.unsubscribe = this.queue.subscribe((event) => this.onQueueEvent(event));
    this.pollTimer = setInterval(() => {
      this.poll().catch((error: unknown) => console.error('job runner: poll failed:', error));
    }, this.pollIntervalMs);
    this.pollTimer.unref();
    void this.pump();
  }

  /** True while a job is running or paused in the worker. */
  get busy(): boolean {
    return this.active !== undefined || this.paused !== undefined;
  }

  /**
   * Stops taking jobs; lets the running job finish for up to `graceMs`, then interrupts it at its
   * next step and re-queues it (a paused training run is re-queued at once, with its resume state).
   */
  async stop(options: { graceMs?: number; exitMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.pollTimer);
    this.unsubscribe?.();
    if (this.paused) this.requestStop(this.paused, 'shutdown');
    const active = this.active;
    if (active) {
      const graceMs = options.graceMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([active.settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      if (this.active === active) this.requestStop(active, 'shutdown');
    }
    await Promise.all([this.active?.settled, this.paused?.settled]);
    await this.chain;
    // Whatever still cannot be recorded stays 'running' in the file; the next start re-queues it.
    await this.recordPending();
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await endWorker(worker, options.exitMs ?? 5_000, (w) => this.terminate(w));
    if (this.workerId) await this.queue.unregisterWorker(this.workerId);
  }

  /**
   * Kills the worker thread as a crash would (a native abort, an out-of-memory): its jobs are
   * re-queued, counting an attempt, and a fresh worker is started.
   */
  async restartWorker(): Promise<void> {
    const worker = this.worker;
    if (worker) await this.terminate(worker);
  }

  /** terminate(), held until no native call runs in the worker: one cut short aborts the process. */
  private async terminate(worker: Worker): Promise<void> {
    const meter = this.nativeCalls.get(worker);
    if (meter)
      await closeToNativeCalls(
        meter,
        () => console.error('job runner: the engine worker is inside a native call; it is ended when the call returns'),
        // threadId is -1 once the thread has ended (before its 'exit' event).
        () => worker.threadId === -1,
      );
    await worker.terminate();
  }

  private async spawnWorker(): Promise<void> {
    const prepared = this.prepared ?? prepareWorker(this.options);
    this.prepared = undefined;
    const { worker, nativeCalls } = prepared;
    worker.ref();
    this.worker = worker;
    this.nativeCalls.set(worker, nativeCalls);
    worker.on('message', (message: FromWorker) => {
      if (message.type !== 'ready' && message.type !== 'load-failed')
        this.enqueueWork(() => this.onWorkerMessage(message));
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.enqueueWork(() => this.onWorkerGone(code));
    });
    await prepared.ready;
    void this.pump();
  }

  private enqueueWork(work: () => Promise<void>): void {
    this.chain = this.chain.then(work).catch((error: unknown) => console.error('job runner:', error));
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        await this.pumpOnce();
      } while (this.pumpAgain);
    } catch (error) {
      // A busy or failing database must not crash the bot; the next poll tries again.
      this.complain('pump', 'could not take the next job (trying again shortly)', error);
    } finally {
      this.pumping = false;
    }
  }

  private async pumpOnce(): Promise<void> {
    if (!(await this.recordPending())) return;
    this.recovered('pump', 'taking jobs again');
    while (!this.stopping && this.worker !== undefined) {
      const active = this.active;
      if (active) {
        // A training run gives way at its next step when someone is waiting for an image.
        if (
          active.kind === 'training' &&
          !active.pauseRequested &&
          (await this.queue.hasInteractiveWaiting(active.jobId))
        ) {
          active.pauseRequested = true;
          Atomics.store(active.flags, flagPause, 1);
        }
        return;
      }
      const paused = this.paused;
      const claimed = await this.queue.claim(this.workerId, {
        interactiveOnly: paused !== undefined,
        pausedJobId: paused?.jobId,
      });
      if (claimed) {
        this.runJob(claimed.view);
        continue;
      }
      if (paused) {
        this.paused = undefined;
        this.active = paused;
        paused.pauseRequested = false;
        await this.queue.reportPaused(paused.jobId, false);
        this.post({ type: 'resume', jobId: paused.jobId });
      }
      return;
    }
  }

  private runJob(job: JobView): void {
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const slot: Slot = {
      jobId: job.id,
      kind: job.kind,
      timeLimitMs: job.timeLimitMs,
      flags: new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)),
      pauseRequested: false,
      settled,
      settle,
    };
    if (job.timeLimitMs !== null) {
      slot.timeLimitTimer = setTimeout(() => this.requestStop(slot, 'timeout'), job.timeLimitMs);
    }
    this.active = slot;
    this.post({
      type: 'run',
      flags: slot.flags.buffer as SharedArrayBuffer,
      input: {
        jobId: job.id,
        command: job.command,
        params: job.params,
        seed: job.seed,
        model: job.model,
        checkpointId: job.checkpointId,
        attempt: job.attempts,
        resumeState: job.resumeState,
      },
    });
  }

  private requestStop(slot: Slot, reason: StopReason): void {
    if (slot.stopReason !== undefined) return;
    slot.stopReason = reason;
    Atomics.store(slot.flags, flagStop, stopCodes[reason]);
    this.post({ type: 'stop', jobId: slot.jobId });
    // A handler stuck in one long step (or never yielding) is cut off by restarting its worker.
    slot.killTimer = setTimeout(() => void this.restartWorker(), this.stopGraceMs);
  }

  private post(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  private findSlot(jobId: number): Slot | undefined {
    if (this.active?.jobId === jobId) return this.active;
    if (this.paused?.jobId === jobId) return this.paused;
    return undefined;
  }

  private release(slot: Slot): void {
    clearTimeout(slot.timeLimitTimer);
    clearTimeout(slot.killTimer);
    if (this.active === slot) this.active = undefined;
    if (this.paused === slot) this.paused = undefined;
    slot.settle();
  }

  private async onWorkerMessage(message: FromWorker): Promise<void> {
    switch (message.type) {
      case 'progress':
        await this.queue.reportProgress(message.jobId, message);
        return;
      case 'state':
        await this.queue.saveResumeState(message.jobId, message.state);
        return;
      case 'yielded': {
        const slot = this.findSlot(message.jobId);
        if (slot === undefined || this.active !== slot) return;
        this.active = undefined;
        this.paused = slot;
        await this.queue.reportPaused(slot.jobId, true);
        void this.pump();
        return;
      }
      case 'done': {
        const slot = this.findSlot(message.jobId);
        if (slot === undefined) return;
        try {
          await this.queue.complete(message.jobId, message.output, message.handlerMs);
        } catch (error) {
          const reason = `the job ran but its outputs could not be saved: ${(error as Error).message}`;
          await this.record(slot.jobId, () => this.queue.fail(message.jobId, reason));
        }
        this.release(slot);
        void this.pump();
        return;
      }
      case 'failed': {
        const slot = this.findSlot(message.jobId);
        if (slot === undefined) return;
        const reason = message.stopReason ?? slot.stopReason;
        await this.record(slot.jobId, () => this.settleStopped(slot, reason, message.error));
        this.release(slot);
        void this.pump();
        return;
      }
      default:
        return;
    }
  }

  private async settleStopped(slot: Slot, reason: StopReason | undefined, error: string): Promise<void> {
    switch (reason) {
      case 'cancelled':
        await this.queue.markCancelled(slot.jobId);
        return;
      case 'timeout':
        await this.queue.fail(
          slot.jobId,
          `the job took longer than its time limit of ${((slot.timeLimitMs ?? 0) / 1000).toFixed(1)} s`,
        );
        return;
      case 'shutdown':
        await this.queue.requeue(slot.jobId, { countAttempt: false, reason: 'interrupted by a shutdown' });
        return;
      default:
        await this.queue.fail(slot.jobId, error);
    }
  }

  private async onWorkerGone(code: number): Promise<void> {
    for (const slot of [this.active, this.paused]) {
      if (slot === undefined) continue;
      if (slot.stopReason !== undefined) {
        const reason = slot.stopReason;
        await this.record(slot.jobId, () => this.settleStopped(slot, reason, 'stopped'));
      } else {
        // Not this job's request: either the worker crashed under it, or it was killed to stop its neighbour.
        const crashed = this.active === slot && !this.anyStopRequested();
        const options = {
          countAttempt: crashed,
          reason: crashed ? `the engine worker stopped unexpectedly (exit code ${code})` : 'its worker was restarted',
        };
        await this.record(slot.jobId, () => this.queue.requeue(slot.jobId, options));
      }
      this.release(slot);
    }
    if (!this.stopping) {
      await this.spawnWorker().catch((error: unknown) =>
        console.error('job runner: could not restart the engine worker:', error),
      );
    }
  }

  /** Writes a job's end now, or keeps it for `recordPending` when the queue refuses (a full disk). */
  private async record(jobId: number, write: () => Promise<void>): Promise<void> {
    try {
      await write();
    } catch (error) {
      console.error(
        `job runner: could not record the end of job #${jobId}; trying again before the next job: ${(error as Error).message}`,
      );
      this.unrecorded.push({ jobId, write });
    }
  }

  /** Retries the job ends the queue refused; true once none is left. */
  private async recordPending(): Promise<boolean> {
    while (this.unrecorded.length > 0) {
      const pending = this.unrecorded[0]!;
      try {
        await pending.write();
      } catch (error) {
        this.complain(
          'record',
          `still cannot record the end of job #${pending.jobId}; no new job is taken until it is`,
          error,
        );
        return false;
      }
      this.unrecorded.shift();
      this.recovered('record', `recorded the end of job #${pending.jobId}`);
    }
    return true;
  }

  private complain(kind: string, what: string, error: unknown): void {
    const text = `${what}: ${(error as Error)?.message ?? String(error)}`;
    if (this.complaints.get(kind) === text) return;
    this.complaints.set(kind, text);
    console.error(`job runner: ${text}`);
  }

  private recovered(kind: string, what: string): void {
    if (!this.complaints.delete(kind)) return;
    console.error(`job runner: ${what}`);
  }

  private anyStopRequested(): boolean {
    return this.active?.stopReason !== undefined || this.paused?.stopReason !== undefined;
  }

  private onQueueEvent(event: JobEvent): void {
    if (event.type === 'queued') void this.pump();
    if (event.type === 'cancel-requested') {
      const slot = this.findSlot(event.jobId);
      if (slot) this.requestStop(slot, 'cancelled');
    }
  }

  private async poll(): Promise<void> {
    // Heartbeats and recovery of other processes' orphans, every couple of seconds.
    if (Date.now() - this.lastHeartbeat >= 2000) {
      this.lastHeartbeat = Date.now();
      try {
        await this.queue.heartbeat(this.workerId);
        await this.queue.recoverInterrupted();
        this.recovered('heartbeat', 'heartbeats are recorded again');
      } catch (error) {
        this.complain('heartbeat', 'could not record a heartbeat (trying again shortly)', error);
      }
    }
    for (const slot of [this.active, this.paused]) {
      if (slot && slot.stopReason === undefined && (await this.queue.isCancelRequested(slot.jobId))) {
        this.requestStop(slot, 'cancelled');
      }
    }
    await this.pump();
  }
}

/**
 * Asks an idle engine worker to release its models and end by itself, and terminates it only if it
 * has not within `exitMs` (a handler that never returns).
 */
async function endWorker(worker: Worker, exitMs: number, terminate: (w: Worker) => Promise<void>): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage({ type: 'exit' } satisfies ToWorker);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), exitMs)));
  const outcome = await Promise.race([exited, late]);
  clearTimeout(timer);
  if (outcome === 'late') await terminate(worker);
}
