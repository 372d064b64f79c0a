// A fake of Discord on loopback that speaks the real protocol to discord.js: the v10 REST routes
// the bot uses (interaction callbacks, webhook edits with multipart files, follow-ups, channel
// messages) and the JSON gateway (HELLO, IDENTIFY → READY, heartbeats, dispatches).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
// `ws` comes with discord.js (its gateway client uses it); the fake is its server side.
import { WebSocketServer, type WebSocket } from 'ws';

export interface RecordedFile {
  readonly name: string;
  readonly contentType: string;
  readonly data: Buffer;
}

/** One REST call as the fake saw it, with its JSON body (or multipart `payload_json`) and files. */
export interface RestCall {
  readonly method: string;
  readonly path: string;
  readonly body: Record<string, unknown>;
  readonly files: RecordedFile[];
  readonly at: number;
  /** What the fake answered (a message object for message routes). */
  readonly response: unknown;
}

export interface FakeDiscord {
  readonly restApi: string;
  readonly calls: RestCall[];
  readonly appId: string;
  readonly botId: string;
  readonly guildId: string;
  readonly channelId: string;
  /** The human who sends the interactions. */
  readonly userId: string;
  /** The token discord.js identified with. */
  identifiedWith(): string | undefined;
  /** Sends a gateway dispatch (op 0) to every connected client. */
  dispatch(t: string, d: unknown): void;
  /** An INTERACTION_CREATE for a slash command; returns its interaction token. */
  slashCommand(name: string, options: { name: string; type: number; value: unknown }[], resolved?: unknown): string;
  /** An INTERACTION_CREATE for a button under `messageId`. */
  buttonPress(customId: string, messageId: string): string;
  /** Makes REST calls with this interaction token fail as Discord does after 15 minutes. */
  expireToken(token: string): void;
  /** Serves `data` under a CDN-like URL, for attachment options. */
  serveFile(name: string, data: Buffer): string;
  /** Resolves when a recorded call matches. */
  waitFor(predicate: (call: RestCall) => boolean, timeoutMs?: number): Promise<RestCall>;
  close(): Promise<void>;
}

const DISCORD_EPOCH = 1420070400000n;
let counter = 0n;
/** Snowflakes with real timestamps: discord.js reads creation times from them. */
function snowflake(): string {
  counter += 1n;
  return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (counter & 0xfffn)).toString();
}

async function readBody(req: IncomingMessage): Promise<{ body: Record<string, unknown>; files: RecordedFile[] }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    // The WHATWG Request parses multipart exactly as a server would.
    const form = await new Request('http://fake/', {
      method: 'POST',
      headers: { 'content-type': type },
      body: raw,
    }).formData();
    const files: RecordedFile[] = [];
    let body: Record<string, unknown> = {};
    for (const [key, value] of form.entries()) {
      if (key === 'payload_json') body = JSON.parse(String(value)) as Record<string, unknown>;
      else if (typeof value !== 'string')
        files.push({ name: value.name, contentType: value.type, data: Buffer.from(await value.arrayBuffer()) });
    }
    return { body, files };
  }
  return {
    body: raw.length > 0 && type.includes('json') ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {},
    files: [],
  };
}

export async function startFakeDiscord(): Promise<FakeDiscord> {
  const appId = snowflake();
  const botId = snowflake();
  const guildId = snowflake();
  const channelId = snowflake();
  const userId = snowflake();
  const calls: RestCall[] = [];
  const waiters: { predicate: (c: RestCall) => boolean; resolve: (c: RestCall) => void }[] = [];
  const expired = new Set<string>();
  const cdn = new Map<string, Buffer>();
  const sockets = new Set<WebSocket>();
  let identifiedToken: string | undefined;
  let seq = 0;
  let base = '';

  const botUser = {
    id: botId,
    username: 'illusionist',
    discriminator: '0',
    global_name: null,
    avatar: null,
    bot: true,
  };
  const humanUser = { id: userId, username: 'alice', discriminator: '0', global_name: 'Alice', avatar: null };
  const channel = {
    id: channelId,
    type: 0,
    name: 'general',
    guild_id: guildId,
    position: 0,
    permission_overwrites: [],
    nsfw: false,
    parent_id: null,
  };

  function message(
    body: Record<string, unknown>,
    files: RecordedFile[],
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> {
    return {
      id: snowflake(),
      channel_id: channelId,
      author: botUser,
      content: body.content ?? '',
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: files.map((f) => ({
        id: snowflake(),
        filename: f.name,
        size: f.data.length,
        url: `${base}/cdn/${f.name}`,
        proxy_url: `${base}/cdn/${f.name}`,
        content_type: f.contentType,
      })),
      embeds: body.embeds ?? [],
      components: body.components ?? [],
      pinned: false,
      type: 0,
      flags: body.flags ?? 0,
      ...extra,
    };
  }

  function send(res: ServerResponse, status: number, json?: unknown): void {
    if (json === undefined) {
      res.writeHead(status).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  }

  function route(
    method: string,
    path: string,
    body: Record<string, unknown>,
    files: RecordedFile[],
  ): [number, unknown?] {
    const token = /^\/webhooks\/\d+\/([^/]+)/.exec(path)?.[1];
    if (token && expired.has(token)) return [401, { message: 'Invalid Webhook Token', code: 50027 }];
    if (method === 'GET' && path === '/gateway/bot') {
      return [
        200,
        {
          url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/gateway`,
          shards: 1,
          session_start_limit: { total: 1000, remaining: 1000, reset_after: 60_000, max_concurrency: 1 },
        },
      ];
    }
    if (method === 'PUT' && /^\/applications\/\d+(\/guilds\/\d+)?\/commands$/.test(path)) {
      return [
        200,
        (body as unknown as Record<string, unknown>[]).map((c) => ({
          ...c,
          id: snowflake(),
          application_id: appId,
          version: snowflake(),
        })),
      ];
    }
    if (method === 'POST' && /^\/interactions\/\d+\/[^/]+\/callback$/.test(path)) return [204];
    if (/^\/webhooks\/\d+\/[^/]+\/messages\/@original$/.test(path)) {
      if (method === 'DELETE') return [204];
      return [200, message(body, files, { webhook_id: appId, application_id: appId })];
    }
    if (method === 'POST' && /^\/webhooks\/\d+\/[^/]+$/.test(path))
      return [200, message(body, files, { webhook_id: appId })];
    if (method === 'GET' && path === `/channels/${channelId}`) return [200, channel];
    if (method === 'POST' && path === `/channels/${channelId}/messages`) return [200, message(body, files)];
    if (method === 'DELETE' && /^\/channels\/\d+\/messages\/\d+$/.test(path)) return [204];
    return [404, { message: `Unknown route ${method} ${path} (fake)`, code: 0 }];
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      if (url.pathname.startsWith('/cdn/')) {
        const data = cdn.get(decodeURIComponent(url.pathname.slice('/cdn/'.length)));
        if (!data) return send(res, 404, { message: 'Not Found', code: 0 });
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': data.length }).end(data);
        return;
      }
      const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10/, '');
      const { body, files } = await readBody(req);
      const [status, json] = route(req.method ?? 'GET', path, body, files);
      const call: RestCall = { method: req.method ?? 'GET', path, body, files, at: Date.now(), response: json };
      calls.push(call);
      send(res, status, json);
      for (const w of [...waiters]) {
        if (w.predicate(call)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(call);
        }
      }
    })().catch((error: unknown) => send(res, 500, { message: String(error), code: 0 }));
  });

  const wss = new WebSocketServer({ server, path: '/gateway' });
  const payload = (op: number, d: unknown, t: string | null = null, s: number | null = null): string =>
    JSON.stringify({ op, d, s, t });
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.send(payload(10, { heartbeat_interval: 41_250 }));
    socket.on('message', (raw) => {
      const packet = JSON.parse(String(raw)) as { op: number; d: Record<string, unknown> };
      if (packet.op === 1) socket.send(payload(11, null));
      if (packet.op === 2) {
        identifiedToken = String(packet.d.token);
        const ready = {
          v: 10,
          user: botUser,
          guilds: [],
          session_id: 'fake-session',
          resume_gateway_url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/gateway`,
          shard: [0, 1],
          application: { id: appId, flags: 0 },
        };
        socket.send(payload(0, ready, 'READY', ++seq));
        const guild = {
          id: guildId,
          name: 'Fake guild',
          icon: null,
          owner_id: userId,
          afk_timeout: 300,
          verification_level: 0,
          default_message_notifications: 0,
          explicit_content_filter: 0,
          roles: [
            {
              id: guildId,
              name: '@everyone',
              permissions: '0',
              position: 0,
              color: 0,
              hoist: false,
              managed: false,
              mentionable: false,
              flags: 0,
            },
          ],
          emojis: [],
          features: [],
          mfa_level: 0,
          system_channel_flags: 0,
          premium_tier: 0,
          preferred_locale: 'en-US',
          nsfw_level: 0,
          stickers: [],
          premium_progress_bar_enabled: false,
          joined_at: new Date().toISOString(),
          large: false,
          unavailable: false,
          member_count: 2,
          members: [],
          channels: [channel],
          threads: [],
          presences: [],
          voice_states: [],
          stage_instances: [],
          guild_scheduled_events: [],
        };
        socket.send(payload(0, guild, 'GUILD_CREATE', ++seq));
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function dispatch(t: string, d: unknown): void {
    const data = payload(0, d, t, ++seq);
    for (const s of sockets) s.send(data);
  }

  function interaction(type: number, data: unknown, extra: Record<string, unknown> = {}): string {
    const token = `itoken-${snowflake()}`;
    dispatch('INTERACTION_CREATE', {
      id: snowflake(),
      application_id: appId,
      type,
      data,
      guild_id: guildId,
      channel_id: channelId,
      channel,
      member: {
        user: humanUser,
        roles: [],
        permissions: '2248473465835073',
        joined_at: new Date().toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      },
      token,
      version: 1,
      app_permissions: '2248473465835073',
      locale: 'en-US',
      guild_locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: { 0: guildId },
      context: 0,
      ...extra,
    });
    return token;
  }

  return {
    restApi: `${base}/api`,
    calls,
    appId,
    botId,
    guildId,
    channelId,
    userId,
    identifiedWith: () => identifiedToken,
    dispatch,
    slashCommand: (name, options, resolved) =>
      interaction(2, { id: snowflake(), name, type: 1, options, ...(resolved ? { resolved } : {}) }),
    buttonPress: (customId, messageId) =>
      interaction(
        3,
        { custom_id: customId, component_type: 2 },
        { message: message({ content: 'a result', components: [] }, [], { id: messageId, webhook_id: appId }) },
      ),
    expireToken: (token) => void expired.add(token),
    serveFile(name, data) {
      cdn.set(name, data);
      return `${base}/cdn/${encodeURIComponent(name)}`;
    },
    waitFor(predicate, timeoutMs = 20_000) {
      const found = calls.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `fake Discord: no matching call in ${timeoutMs} ms; calls: ${calls.map((c) => `${c.method} ${c.path.replace(/itoken-\d+/, 'TOKEN')}`).join(', ')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (c) => {
            clearTimeout(timer);
            resolve(c);
          },
        });
      });
    },
    async close() {
      for (const s of sockets) s.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
