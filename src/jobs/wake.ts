// A sleep that news cuts short: loops that wait for "something happened, or enough time passed"
// (following a job, streaming a run's replies) sleep on it, and whoever has news calls wake().

export interface Waker {
  /** Ends the current sleep at once; with none in progress, the next sleep returns at once. */
  wake(): void;
  /** Resolves true when woken, false when `ms` passed first. */
  sleep(ms: number): Promise<boolean>;
}

export function createWaker(): Waker {
  let pending = false;
  let resolveSleep: ((woken: boolean) => void) | undefined;
  return {
    wake() {
      if (resolveSleep) resolveSleep(true);
      else pending = true;
    },
    sleep(ms) {
      // A wake between two sleeps (news that arrived while the loop was busy) is not lost.
      if (pending) {
        pending = false;
        return Promise.resolve(true);
      }
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(false), ms);
        const finish = (woken: boolean): void => {
          clearTimeout(timer);
          resolveSleep = undefined;
          resolve(woken);
        };
        resolveSleep = finish;
      });
    },
  };
}
