// The Redis driver BullMQ runs on. BullMQ 6 leaves the driver to the application (ioredis is an
// optional peer dependency) and, in a native ES module like ours, cannot load it by itself: it
// needs a client instance. One client per BullMQ object, so a blocking read (QueueEvents, a
// worker's fetch) never holds up another's commands.
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'bullmq';
import { redisConnection } from './redis-shared.js';

/** Redis mode was asked for, but the driver package is not installed. */
export class RedisDriverMissingError extends Error {
  override readonly name = 'RedisDriverMissingError';
  constructor(cause: unknown) {
    super(
      'Redis mode needs the ioredis package, which is not installed here: run `npm install ioredis@5` (BullMQ 6 leaves its Redis driver to the application)',
      { cause },
    );
  }
}

type IORedisConstructor = new (options: Record<string, unknown>) => unknown;

let driver: IORedisConstructor | undefined;

function loadDriver(): IORedisConstructor {
  if (driver) return driver;
  try {
    const mod = createRequire(import.meta.url)('ioredis') as IORedisConstructor & { default?: IORedisConstructor };
    driver = mod.default ?? mod;
    return driver;
  } catch (error) {
    throw new RedisDriverMissingError(error);
  }
}

/**
 * A new client for `url`. `offline: false` makes commands fail at once while Redis is away (the
 * bot's enqueue says so to the person) instead of waiting in a queue unseen.
 */
export function redisClient(url: string, options: { offline?: boolean; owned?: RedisClients } = {}): ConnectionOptions {
  const IORedis = loadDriver();
  const client = new IORedis({
    ...redisConnection(url),
    // BullMQ's requirement for blocking connections; retries go on until Redis is back.
    maxRetriesPerRequest: null,
    enableOfflineQueue: options.offline ?? true,
  }) as ConnectionOptions & { disconnect(): void };
  options.owned?.push(client);
  return client;
}

/**
 * The clients one owner made. BullMQ does not close a connection it was given (it may be shared),
 * so the owner disconnects them after closing its BullMQ objects; otherwise they keep the process
 * alive and keep reconnecting.
 */
export class RedisClients {
  private readonly clients: Array<{ disconnect(): void }> = [];

  push(client: { disconnect(): void }): void {
    this.clients.push(client);
  }

  disconnectAll(): void {
    for (const client of this.clients.splice(0)) client.disconnect();
  }
}
