// People and their limits: per-user quotas and concurrency, bans, and admins. Admins come from
// configuration (not the database), so a compromised chat account cannot grant itself admin.
import type { Db } from './database.js';
import { formatWho, type Who } from './who.js';

export interface UserLimits {
  /** Jobs a user may submit per rolling 24 hours. */
  readonly dailyQuota: number;
  /** Jobs a user may have queued or running at once. */
  readonly maxActiveJobs: number;
}

export interface UsersConfig {
  /** `platform:userId` strings. */
  readonly admins?: readonly string[];
  readonly defaults?: Partial<UserLimits>;
}

export interface UserRecord {
  readonly platform: string;
  readonly userId: string;
  readonly displayName: string | null;
  readonly banned: boolean;
  readonly banReason: string | null;
  readonly bannedBy: string | null;
  readonly limits: UserLimits;
  readonly isAdmin: boolean;
}

interface RawUser {
  platform: string;
  user_id: string;
  display_name: string | null;
  banned: number;
  ban_reason: string | null;
  banned_by: string | null;
  daily_quota: number | null;
  max_active_jobs: number | null;
}

export const defaultLimits: UserLimits = { dailyQuota: 200, maxActiveJobs: 3 };

export class UsersStore {
  private readonly admins: ReadonlySet<string>;
  readonly defaults: UserLimits;
  private readonly ensureStmt;
  private readonly getStmt;
  private readonly banStmt;
  private readonly unbanStmt;
  private readonly limitsStmt;

  constructor(db: Db, config: UsersConfig = {}) {
    this.admins = new Set(config.admins ?? []);
    this.defaults = { ...defaultLimits, ...config.defaults };
    this.ensureStmt = db.prepare<{ platform: string; userId: string; displayName: string | null; now: number }>(`
      INSERT INTO users (platform, user_id, display_name, created_at) VALUES (@platform, @userId, @displayName, @now)
      ON CONFLICT (platform, user_id) DO UPDATE SET display_name = coalesce(@displayName, display_name)`);
    this.getStmt = db.prepare<[string, string], RawUser>('SELECT * FROM users WHERE platform = ? AND user_id = ?');
    this.banStmt = db.prepare<[string | null, string, number, string, string]>(
      'UPDATE users SET banned = 1, ban_reason = ?, banned_by = ?, banned_at = ? WHERE platform = ? AND user_id = ?',
    );
    this.unbanStmt = db.prepare<[string, string]>(
      'UPDATE users SET banned = 0, ban_reason = NULL, banned_by = NULL, banned_at = NULL WHERE platform = ? AND user_id = ?',
    );
    this.limitsStmt = db.prepare<[number | null, number | null, string, string]>(
      'UPDATE users SET daily_quota = ?, max_active_jobs = ? WHERE platform = ? AND user_id = ?',
    );
  }

  isAdmin(who: Who): boolean {
    return this.admins.has(formatWho(who));
  }

  /** Creates the user's row on first sight; a later display name replaces the old one. */
  ensure(who: Who, displayName?: string, now = Date.now()): UserRecord {
    this.ensureStmt.run({ platform: who.platform, userId: who.userId, displayName: displayName ?? null, now });
    return this.get(who);
  }

  /** A user never seen before gets the defaults (no row is written). */
  get(who: Who): UserRecord {
    const raw = this.getStmt.get(who.platform, who.userId);
    return {
      platform: who.platform,
      userId: who.userId,
      displayName: raw?.display_name ?? null,
      banned: raw !== undefined && raw.banned !== 0,
      banReason: raw?.ban_reason ?? null,
      bannedBy: raw?.banned_by ?? null,
      limits: {
        dailyQuota: raw?.daily_quota ?? this.defaults.dailyQuota,
        maxActiveJobs: raw?.max_active_jobs ?? this.defaults.maxActiveJobs,
      },
      isAdmin: this.isAdmin(who),
    };
  }

  ban(who: Who, by: Who, reason?: string, now = Date.now()): void {
    if (this.isAdmin(who))
      throw new RangeError(`${formatWho(who)} is an admin (from configuration) and cannot be banned`);
    this.ensure(who, undefined, now);
    this.banStmt.run(reason ?? null, formatWho(by), now, who.platform, who.userId);
  }

  unban(who: Who): void {
    this.unbanStmt.run(who.platform, who.userId);
  }

  /** Per-user overrides; `null` returns a limit to the configured default. */
  setLimits(who: Who, limits: { dailyQuota?: number | null; maxActiveJobs?: number | null }): UserRecord {
    const current = this.ensure(who);
    const raw = this.getStmt.get(who.platform, who.userId)!;
    const pick = (next: number | null | undefined, stored: number | null) => (next === undefined ? stored : next);
    this.limitsStmt.run(
      pick(limits.dailyQuota, raw.daily_quota),
      pick(limits.maxActiveJobs, raw.max_active_jobs),
      current.platform,
      current.userId,
    );
    return this.get(who);
  }
}
