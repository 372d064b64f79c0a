// Runs the PyTorch reference (bench/reference/flow_reference.py) and timed child processes for the
// Part B benchmark, so every figure is printed beside the reference's from the same run.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The script, found from the compiled dist/bench/ (tsc does not copy it). */
export const REFERENCE_SCRIPT = fileURLToPath(new URL('../../bench/reference/flow_reference.py', import.meta.url));

export const INSTALL_HINT =
  'install it with: apt-get install python3-torch libopenblas0-pthread (Debian; without OpenBLAS its torch falls back to the reference BLAS, several times slower), or set REFERENCE_PYTHON to a python3 that has torch';

/** REFERENCE_PYTHON alone when set; else python3 on PATH, then Debian's /usr/bin/python3 (where python3-torch installs). */
export function referenceCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.REFERENCE_PYTHON ? [env.REFERENCE_PYTHON] : ['python3', '/usr/bin/python3'];
}

export type TorchProbe = { python: string } | { missing: string };

/** The first candidate for which `python -c "import torch"` works, or why none did. */
export function findTorchPython(candidates: readonly string[]): TorchProbe {
  const tried: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) return { python };
    const why = r.error
      ? ((r.error as NodeJS.ErrnoException).code ?? r.error.message)
      : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    tried.push(`${python}: ${why}`);
  }
  return { missing: `PyTorch not found (${tried.join('; ')}); ${INSTALL_HINT}` };
}

export interface TimedRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Spawn to exit, as the user waits. */
  wallSeconds: number;
  /** Spawn to the stderr line matching `marker`, when one came. */
  markerSeconds: number | undefined;
}

/** Runs a command to its end, timing it from spawn, and when a stderr line matches `marker`. */
export function timedRun(
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; marker?: RegExp } = {},
): Promise<TimedRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let markerSeconds: number | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (markerSeconds === undefined && opts.marker?.test(stderr))
        markerSeconds = (performance.now() - started) / 1000;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout, stderr, wallSeconds: (performance.now() - started) / 1000, markerSeconds }),
    );
  });
}

/** The reference's result: the last JSON line it printed; a failed run throws with its stderr. */
export function referenceResult(run: TimedRun, what: string): Record<string, unknown> {
  const line = run.stdout.trim().split('\n').pop() ?? '';
  if (run.code !== 0 || !line.startsWith('{'))
    throw new Error(
      `the PyTorch reference's ${what} failed (exit ${run.code}): ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  return JSON.parse(line) as Record<string, unknown>;
}

export async function runReference(
  python: string,
  args: readonly string[],
  marker?: RegExp,
): Promise<{ run: TimedRun; result: Record<string, unknown> }> {
  const run = await timedRun(python, [REFERENCE_SCRIPT, ...args], marker ? { marker } : {});
  return { run, result: referenceResult(run, args[0] ?? '') };
}
