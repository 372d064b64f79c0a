// Real file-system limits for tests: a read-only data folder and a tiny tmpfs that fills up.
// Both need root (mount); a read-only folder falls back to chmod for other users, where it binds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

const isRoot = process.getuid?.() === 0;

function mount(args: string[]): void {
  try {
    execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(
      `mount ${args.join(' ')} failed (this test needs root and mount): ${stderr || (error as Error).message}`,
    );
  }
}

/**
 * A fresh folder; when the test ends anything mounted on it is unmounted and it is removed.
 * (One hook for both: removal must come after the unmount.)
 */
export function makeMountDir(t: TestContext, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => {
    // Deepest first, so a mount inside another comes off before it.
    const mounted = fs
      .readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[1] ?? '')
      .filter((point) => point === dir || point.startsWith(`${dir}/`))
      .sort((a, b) => b.length - a.length);
    // Lazily: a store or a child process the test's own hooks close after this one may still hold files there.
    for (const point of mounted) execFileSync('umount', ['-l', point]);
    if (!isRoot) execFileSync('chmod', ['-R', 'u+w', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Mounts a tmpfs of `bytes` on `dir` (a real disk that fills up). */
export function mountTmpfs(dir: string, bytes: number): void {
  mount(['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir]);
}

/** Makes `dir` read-only: a read-only bind mount as root (root ignores permissions), else chmod 555. */
export function makeReadOnly(dir: string): void {
  if (!isRoot) {
    fs.chmodSync(dir, 0o555);
    return;
  }
  mount(['--bind', dir, dir]);
  mount(['-o', 'remount,bind,ro', dir]);
}
