// How gallery posts and people read in replies, and artifacts as reply files.
import { readFileSync } from 'node:fs';
import type { GalleryPost, Store, Who } from '../store/index.js';
import { formatWho, isSameWho } from '../store/index.js';
import { postButtons } from './actions.js';
import { promptOfJob, type Command } from './command.js';
import type { GalleryEntry, ReplyFile } from './contract.js';

export function fileFromArtifact(store: Store, sha256: string, name: string): ReplyFile | undefined {
  const artifact = store.artifacts.get(sha256);
  if (!artifact) return undefined;
  try {
    return { name, data: readFileSync(artifact.path), contentType: artifact.mime, sha256 };
  } catch {
    return undefined; // the file was deleted by hand; the row outlives it
  }
}

/** How a person is shown to others: their display name, never their platform id. */
export function displayNameOf(store: Store, who: Who): string {
  return store.users.get(who).displayName ?? `a ${who.platform} user`;
}

export function galleryEntry(
  store: Store,
  commands: ReadonlyMap<string, Command>,
  post: GalleryPost,
  viewer: Who,
  viewerIsAdmin: boolean,
  withFile = true,
): GalleryEntry {
  const job = store.jobs.get(post.jobId);
  const author = { platform: post.platform, userId: post.userId };
  return {
    postId: post.id,
    jobId: post.jobId,
    command: post.command,
    prompt: post.title ?? (job ? promptOfJob(commands, job.command, job.params) : ''),
    seed: post.seed,
    votes: post.votes,
    author: formatWho(author),
    authorName: displayNameOf(store, author),
    publishedAt: post.publishedAt,
    file:
      withFile && post.artifactSha256
        ? fileFromArtifact(
            store,
            post.artifactSha256,
            `gallery-${post.id}.${store.artifacts.get(post.artifactSha256)?.ext ?? 'png'}`,
          )
        : undefined,
    actions: postButtons(post, isSameWho(author, viewer) || viewerIsAdmin),
  };
}
