// /gallery: the community gallery: top, recent or your own published images, optionally of one
// command, each with its prompt, seed, votes and vote/remove buttons.
import type { ReplyCommand } from './command.js';
import { num, str } from './options.js';
import { TECHNIQUES } from '../techniques/registry.js';
import { galleryEntry } from './presentation.js';

/** The commands whose pictures may be published: every technique, and /digits. */
export const GALLERY_COMMANDS = [...TECHNIQUES.map((t) => t.name), 'digits'];

export const command: ReplyCommand = {
  definition: {
    name: 'gallery',
    description: 'browse the community gallery',
    replies: 'private',
    options: [
      {
        name: 'filter',
        type: 'string',
        description: 'top (most votes), recent, or mine',
        choices: ['top', 'recent', 'mine'].map((v) => ({ name: v, value: v })),
      },
      {
        name: 'command',
        type: 'string',
        description: 'only images made by this command',
        choices: GALLERY_COMMANDS.map((v) => ({ name: v, value: v })),
      },
      { name: 'limit', type: 'integer', description: 'how many (default 10)', min: 1, max: 50 },
    ],
  },
  async execute(options, ctx) {
    const filter = (str(options, 'filter') ?? 'top') as 'top' | 'recent' | 'mine';
    const only = str(options, 'command');
    const limit = num(options, 'limit') ?? 10;
    // Fetch more than shown when filtering by command: the store sorts, the filter trims.
    const fetch = only ? 500 : limit;
    const posts =
      filter === 'top'
        ? ctx.store.gallery.listTop({ limit: fetch })
        : filter === 'recent'
          ? ctx.store.gallery.listRecent({ limit: fetch })
          : ctx.store.gallery.listMine(ctx.who, { limit: fetch });
    const shown = posts.filter((p) => !only || p.command === only).slice(0, limit);
    return {
      type: 'gallery',
      filter,
      command: only,
      entries: shown.map((p) => galleryEntry(ctx.store, ctx.commands, p, ctx.who, ctx.isAdmin)),
      private: true,
    };
  },
};
