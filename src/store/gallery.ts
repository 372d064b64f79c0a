// The community gallery: finished jobs their authors published, reactions on them, and removal
// by the author or an admin. Removed posts stay as rows (who removed them and why) but are not listed.
import type { Db } from './database.js';
import { formatWho, type Who } from './who.js';

export interface GalleryPost {
  readonly id: number;
  readonly jobId: number;
  readonly platform: string;
  readonly userId: string;
  readonly title: string | null;
  readonly publishedAt: number;
  readonly removedAt: number | null;
  readonly removedBy: string | null;
  readonly command: string;
  readonly seed: number;
  /** Number of reactions of any kind. */
  readonly votes: number;
  /** The first output file, for thumbnails. */
  readonly artifactSha256: string | null;
}

export type GalleryErrorCode = 'not-found' | 'not-done' | 'not-owner' | 'removed' | 'not-allowed';

/** A refused gallery action; the message is meant for the person who asked. */
export class GalleryError extends Error {
  constructor(
    readonly code: GalleryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'GalleryError';
  }
}

interface RawPost {
  id: number;
  job_id: number;
  platform: string;
  user_id: string;
  title: string | null;
  published_at: number;
  removed_at: number | null;
  removed_by: string | null;
  command: string;
  seed: number;
  votes: number;
  artifact_sha256: string | null;
}

const postColumns = `
  p.id, p.job_id, p.platform, p.user_id, p.title, p.published_at, p.removed_at, p.removed_by,
  j.command, j.seed,
  (SELECT count(*) FROM gallery_votes v WHERE v.post_id = p.id) AS votes,
  (SELECT o.artifact_sha256 FROM job_outputs o WHERE o.job_id = p.job_id ORDER BY o.ordinal LIMIT 1) AS artifact_sha256
  FROM gallery_posts p JOIN jobs j ON j.id = p.job_id`;

export class GalleryStore {
  private readonly jobStmt;
  private readonly insertStmt;
  private readonly getStmt;
  private readonly getByJobStmt;
  private readonly removeStmt;
  private readonly voteStmt;
  private readonly unvoteStmt;
  private readonly reactionsStmt;
  private readonly topStmt;
  private readonly recentStmt;
  private readonly mineStmt;

  constructor(private readonly db: Db) {
    this.jobStmt = db.prepare<[number], { platform: string; user_id: string; status: string }>(
      'SELECT platform, user_id, status FROM jobs WHERE id = ?',
    );
    this.insertStmt = db.prepare<[number, string, string, string | null, number]>(
      'INSERT INTO gallery_posts (job_id, platform, user_id, title, published_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.getStmt = db.prepare<[number], RawPost>(`SELECT ${postColumns} WHERE p.id = ?`);
    this.getByJobStmt = db.prepare<[number], RawPost>(`SELECT ${postColumns} WHERE p.job_id = ?`);
    this.removeStmt = db.prepare<[number, string, string | null, number]>(
      'UPDATE gallery_posts SET removed_at = ?, removed_by = ?, removal_reason = ? WHERE id = ? AND removed_at IS NULL',
    );
    this.voteStmt = db.prepare<[number, string, string, string, number]>(
      'INSERT OR IGNORE INTO gallery_votes (post_id, platform, user_id, reaction, voted_at) VALUES (?, ?, ?, ?, ?)',
    );
    this.unvoteStmt = db.prepare<[number, string, string, string]>(
      'DELETE FROM gallery_votes WHERE post_id = ? AND platform = ? AND user_id = ? AND reaction = ?',
    );
    this.reactionsStmt = db.prepare<[number], { reaction: string; count: number }>(
      'SELECT reaction, count(*) AS count FROM gallery_votes WHERE post_id = ? GROUP BY reaction ORDER BY count DESC, reaction',
    );
    this.topStmt = db.prepare<[number, number], RawPost>(
      `SELECT ${postColumns} WHERE p.removed_at IS NULL AND p.published_at >= ? ORDER BY votes DESC, p.id DESC LIMIT ?`,
    );
    this.recentStmt = db.prepare<[number, number], RawPost>(
      `SELECT ${postColumns} WHERE p.removed_at IS NULL AND p.id < ? ORDER BY p.id DESC LIMIT ?`,
    );
    this.mineStmt = db.prepare<[string, string, number], RawPost>(
      `SELECT ${postColumns} WHERE p.removed_at IS NULL AND p.platform = ? AND p.user_id = ? ORDER BY p.id DESC LIMIT ?`,
    );
  }

  /** Publishes a finished job. Only its author may (or an admin, for moderation tools). */
  publish(jobId: number, by: Who, options: { title?: string; isAdmin?: boolean } = {}, now = Date.now()): GalleryPost {
    const publish = this.db.transaction(() => {
      const job = this.jobStmt.get(jobId);
      if (job === undefined) throw new GalleryError('not-found', `there is no job #${jobId}`);
      if (job.status !== 'done')
        throw new GalleryError('not-done', `job #${jobId} is ${job.status}; only finished jobs can be published`);
      const isOwner = job.platform === by.platform && job.user_id === by.userId;
      if (!isOwner && !options.isAdmin)
        throw new GalleryError('not-owner', `only the author of job #${jobId} can publish it`);
      const existing = this.getByJobStmt.get(jobId);
      if (existing !== undefined) {
        if (existing.removed_at !== null) {
          throw new GalleryError(
            'removed',
            `job #${jobId} was removed from the gallery by ${existing.removed_by} and cannot be published again`,
          );
        }
        return toPost(existing);
      }
      const info = this.insertStmt.run(jobId, job.platform, job.user_id, options.title ?? null, now);
      return this.get(Number(info.lastInsertRowid))!;
    });
    return publish.immediate();
  }

  get(postId: number): GalleryPost | undefined {
    const raw = this.getStmt.get(postId);
    return raw === undefined ? undefined : toPost(raw);
  }

  getByJob(jobId: number): GalleryPost | undefined {
    const raw = this.getByJobStmt.get(jobId);
    return raw === undefined ? undefined : toPost(raw);
  }

  /** Removes a post; allowed to its author and to admins. */
  remove(postId: number, by: Who, options: { isAdmin?: boolean; reason?: string } = {}, now = Date.now()): GalleryPost {
    const post = this.get(postId);
    if (post === undefined || post.removedAt !== null)
      throw new GalleryError('not-found', `there is no gallery post #${postId}`);
    const isAuthor = post.platform === by.platform && post.userId === by.userId;
    if (!isAuthor && !options.isAdmin) {
      throw new GalleryError('not-allowed', `only the author of post #${postId} or an admin can remove it`);
    }
    this.removeStmt.run(now, formatWho(by), options.reason ?? null, postId);
    return this.get(postId)!;
  }

  /** Adds a reaction (one of each kind per person); returns false if it was already there. */
  react(postId: number, by: Who, reaction = '👍', now = Date.now()): boolean {
    const post = this.get(postId);
    if (post === undefined || post.removedAt !== null)
      throw new GalleryError('not-found', `there is no gallery post #${postId}`);
    return this.voteStmt.run(postId, by.platform, by.userId, reaction, now).changes === 1;
  }

  unreact(postId: number, by: Who, reaction = '👍'): boolean {
    return this.unvoteStmt.run(postId, by.platform, by.userId, reaction).changes === 1;
  }

  listReactions(postId: number): { reaction: string; count: number }[] {
    return this.reactionsStmt.all(postId);
  }

  /** Most reacted posts, optionally only those published since `since` (ms epoch). */
  listTop(options: { limit?: number; since?: number } = {}): GalleryPost[] {
    return this.topStmt.all(options.since ?? 0, options.limit ?? 20).map(toPost);
  }

  listRecent(options: { limit?: number; beforeId?: number } = {}): GalleryPost[] {
    return this.recentStmt.all(options.beforeId ?? Number.MAX_SAFE_INTEGER, options.limit ?? 20).map(toPost);
  }

  listMine(who: Who, options: { limit?: number } = {}): GalleryPost[] {
    return this.mineStmt.all(who.platform, who.userId, options.limit ?? 20).map(toPost);
  }
}

function toPost(r: RawPost): GalleryPost {
  return {
    id: r.id,
    jobId: r.job_id,
    platform: r.platform,
    userId: r.user_id,
    title: r.title,
    publishedAt: r.published_at,
    removedAt: r.removed_at,
    removedBy: r.removed_by,
    command: r.command,
    seed: r.seed,
    votes: r.votes,
    artifactSha256: r.artifact_sha256,
  };
}
