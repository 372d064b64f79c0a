// A real Redis for the Redis-mode tests: REDIS_URL when it is set (CI may start one), else Debian's
// redis-server started here on a free loopback port without persistence, stopped when the test
// ends. It fails, never skips, when neither can be had.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { TestContext } from 'node:test';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops it (SIGTERM) and waits; `start` brings it back on the same port, empty. Only for one this helper started. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether a Redis answers PING on host:port (raw RESP, so the helper needs no client library). */
export function pingRedis(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

export async function startRedis(t: TestContext): Promise<RedisServer> {
  const given = process.env.REDIS_URL?.trim();
  if (given) {
    const url = new URL(given);
    const port = Number(url.port || 6379);
    if (!(await pingRedis(url.hostname, port)))
      throw new Error(`REDIS_URL=${given} is set but no Redis answers PING there`);
    const refuse = async (): Promise<void> => {
      throw new Error('this test stops and starts Redis; unset REDIS_URL so the test starts its own');
    };
    return { url: given, port, stop: refuse, start: refuse };
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';
  const start = async (): Promise<void> => {
    output = '';
    const started = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    started.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    started.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const failed = new Promise<never>((_, reject) => {
      started.once('error', (error) =>
        reject(
          new Error(
            `redis-server could not be started (${error.message}); install Debian's redis-server (apt-get install -y redis-server) or set REDIS_URL`,
          ),
        ),
      );
      started.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it answered:\n${output}`)));
    });
    const deadline = Date.now() + 20_000;
    const ready = (async () => {
      while (Date.now() < deadline) {
        if (await pingRedis('127.0.0.1', port)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`redis-server on port ${port} did not answer PING within 20 s:\n${output}`);
    })();
    await Promise.race([ready, failed]);
    failed.catch(() => {});
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  await start();
  t.after(stop);
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
