// How jobs and gallery posts read in replies: captions with seed and parameters, the prompt of
// a job for the gallery, files from artifacts, and the action ids of the buttons.
import { readFileSync } from 'node:fs';
import type { GalleryPost, Store, Who } from '../store/index.js';
import { formatWho, isSameWho } from '../store/index.js';
import type { GalleryEntry, ReplyAction, ReplyFile } from './contract.js';
import { unvoteActionId, voteActionId } from './contract.js';

/** The prompt(s) of a job, or its digit, for captions and the gallery. */
export function promptOf(params: unknown): string {
  const p = (params ?? {}) as Record<string, unknown>;
  if (Array.isArray(p.prompts)) return p.prompts.map(String).join(' / ');
  if (typeof p.far === 'string') return `${p.far} (far) / ${String(p.near)} (near)`;
  if (typeof p.prompt === 'string' && p.prompt !== '') return p.prompt;
  if (typeof p.digit === 'number') return `digit ${p.digit}`;
  if (p.kind === 'class' || p.kind === 'time') return p.digit === undefined ? 'digits' : '';
  return '';
}

export function fileFromArtifact(store: Store, sha256: string, name: string): ReplyFile | undefined {
  const artifact = store.artifacts.get(sha256);
  if (!artifact) return undefined;
  try {
    return { name, data: readFileSync(artifact.path), contentType: artifact.mime, sha256 };
  } catch {
    return undefined; // the file was deleted by hand; the row outlives it
  }
}

/** Buttons under a finished job. */
export function resultActions(jobId: number, options: { moreSteps: boolean; variations: boolean }): ReplyAction[] {
  const actions: ReplyAction[] = [{ id: `reroll:${jobId}`, label: 'Reroll', style: 'primary' }];
  if (options.moreSteps) actions.push({ id: `more:${jobId}`, label: 'Same seed, more steps', style: 'secondary' });
  if (options.variations) actions.push({ id: `vary:${jobId}`, label: 'Variations', style: 'secondary' });
  actions.push({ id: `publish:${jobId}`, label: 'Publish to gallery', style: 'success' });
  actions.push({ id: `delete:${jobId}`, label: 'Delete', style: 'danger' });
  return actions;
}

/** How a person is shown to others: their display name, never their platform id. */
export function displayNameOf(store: Store, who: Who): string {
  return store.users.get(who).displayName ?? `a ${who.platform} user`;
}

export function galleryEntry(store: Store, post: GalleryPost, viewer: Who, viewerIsAdmin: boolean, withFile = true): GalleryEntry {
  const job = store.jobs.get(post.jobId);
  const author = { platform: post.platform, userId: post.userId };
  const actions: ReplyAction[] = [{ id: voteActionId(post.jobId), label: `▲ ${post.votes}`, style: 'secondary' }];
  if (isSameWho(author, viewer) || viewerIsAdmin) actions.push({ id: `unpublish:${post.id}`, label: 'Remove', style: 'danger' });
  return {
    postId: post.id,
    jobId: post.jobId,
    command: post.command,
    prompt: post.title ?? promptOf(job?.params),
    seed: post.seed,
    votes: post.votes,
    author: formatWho(author),
    authorName: displayNameOf(store, author),
    publishedAt: post.publishedAt,
    file: withFile && post.artifactSha256 ? fileFromArtifact(store, post.artifactSha256, `gallery-${post.id}.${store.artifacts.get(post.artifactSha256)?.ext ?? 'png'}`) : undefined,
    actions,
  };
}

export { unvoteActionId, voteActionId };
