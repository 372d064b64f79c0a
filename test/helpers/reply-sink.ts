// A ReplySink that records every reply, with a way to wait for the final one.
import type { Reply, ReplySink } from '../../src/commands/contract.js';

export interface RecordingSink extends ReplySink {
  readonly replies: Reply[];
  last(): Reply;
}

export function recordingSink(options: { progressIntervalMs?: number; previews?: boolean } = {}): RecordingSink {
  const replies: Reply[] = [];
  return {
    replies,
    progressIntervalMs: options.progressIntervalMs ?? 0,
    previews: options.previews ?? true,
    async send(reply) {
      replies.push(reply);
    },
    last() {
      const r = replies[replies.length - 1];
      if (!r) throw new Error('no reply was sent');
      return r;
    },
  };
}
