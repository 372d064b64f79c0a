// The machine a benchmark ran on, named beside its figures: the machines here change from session to
// session (AMD EPYC with AVX2, Intel Xeon with AVX-512 and AMX), so a figure means little without it.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

/** The vector extensions that decide how fast the UNet's convolutions can run, as /proc/cpuinfo names them. */
export const VECTOR_EXTENSIONS: ReadonlyArray<{ name: string; flags: readonly string[] }> = [
  { name: 'AVX2', flags: ['avx2'] },
  { name: 'FMA', flags: ['fma'] },
  { name: 'AVX-512', flags: ['avx512f'] },
  { name: 'AVX512-VNNI', flags: ['avx512_vnni'] },
  { name: 'AVX512-BF16', flags: ['avx512_bf16'] },
  { name: 'AMX', flags: ['amx_tile', 'amx_bf16', 'amx_int8'] },
];

export interface MachineDescription {
  model: string;
  cores: number;
  /** Extensions every core lists, in VECTOR_EXTENSIONS' order. */
  extensions: string[];
  /** Those it does not have. */
  missing: string[];
}

/**
 * The extensions of a /proc/cpuinfo text (x86 'flags' lines; 'Features' on Arm), kept only when
 * every processor listed has them. No flags line at all: nothing is known, nothing is claimed.
 */
export function cpuExtensions(cpuinfo: string): { present: string[]; missing: string[] } | undefined {
  const lines = cpuinfo.split('\n').filter((l) => /^(flags|Features)\s*:/.test(l));
  if (lines.length === 0) return undefined;
  const sets = lines.map(
    (l) =>
      new Set(
        l
          .slice(l.indexOf(':') + 1)
          .trim()
          .split(/\s+/),
      ),
  );
  const present: string[] = [];
  const missing: string[] = [];
  for (const ext of VECTOR_EXTENSIONS) {
    // AMX counts when any of its flags is there (amx_tile comes with amx_bf16 / amx_int8).
    const has = sets.every((s) => ext.flags.some((f) => s.has(f)));
    (has ? present : missing).push(ext.name);
  }
  return { present, missing };
}

export function describeMachine(
  cpuinfo: string | undefined,
  list: ReadonlyArray<{ model: string }> = cpus(),
): MachineDescription {
  const model = list[0]?.model.replace(/\s+/g, ' ').trim() || 'unknown CPU';
  const ext = cpuinfo === undefined ? undefined : cpuExtensions(cpuinfo);
  return { model, cores: list.length, extensions: ext?.present ?? [], missing: ext?.missing ?? [] };
}

function readCpuinfo(): string | undefined {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined; // not Linux
  }
}

/** One line: 'AMD EPYC 9454, 2 cores; AVX2, FMA (no AVX-512, AVX512-VNNI, AVX512-BF16, AMX); load 3.1'. */
export function formatMachine(m: MachineDescription, load: number = loadavg()[0] ?? 0): string {
  const ext =
    m.extensions.length + m.missing.length === 0
      ? 'vector extensions unknown (no /proc/cpuinfo flags)'
      : `${m.extensions.join(', ') || 'none'}${m.missing.length ? ` (no ${m.missing.join(', ')})` : ''}`;
  return `${m.model}, ${m.cores} cores; ${ext}; load average ${load.toFixed(1)}`;
}

export function thisMachine(): MachineDescription {
  return describeMachine(readCpuinfo());
}
