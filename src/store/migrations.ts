// The schema's history: each migration moves the database from version n-1 to n.
// Never edit a released migration; append a new one, because files in the field are already at n.

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

// Times are integer milliseconds since the Unix epoch; JSON columns hold canonical JSON text.
const initialSchema = `
CREATE TABLE users (
  platform        TEXT NOT NULL,
  user_id         TEXT NOT NULL,
  display_name    TEXT,
  banned          INTEGER NOT NULL DEFAULT 0,
  ban_reason      TEXT,
  banned_by       TEXT,
  banned_at       INTEGER,
  daily_quota     INTEGER,          -- NULL: the configured default
  max_active_jobs INTEGER,          -- NULL: the configured default
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (platform, user_id)
) WITHOUT ROWID;

CREATE TABLE jobs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  platform         TEXT NOT NULL,
  user_id          TEXT NOT NULL,
  channel_id       TEXT,
  thread_id        TEXT,
  command          TEXT NOT NULL,
  params           TEXT NOT NULL,
  model            TEXT,
  checkpoint_id    INTEGER REFERENCES checkpoints(id),
  seed             INTEGER NOT NULL,
  kind             TEXT NOT NULL CHECK (kind IN ('interactive', 'training')),
  status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  created_at       INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  progress_step    INTEGER,
  progress_total   INTEGER,
  progress_message TEXT,
  resume_state     TEXT,
  error            TEXT,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL DEFAULT 3,
  time_limit_ms    INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  cancelled_by     TEXT,
  result           TEXT,
  rerun_of         INTEGER REFERENCES jobs(id),
  worker_id        TEXT
);
CREATE INDEX jobs_by_status ON jobs (status, kind, id);
CREATE INDEX jobs_by_user ON jobs (platform, user_id, id);
-- Claiming counts each candidate's running jobs; this keeps that count off the user's history.
CREATE INDEX jobs_running_by_user ON jobs (platform, user_id) WHERE status = 'running';

-- Processes that run jobs, so a starting process re-queues only the jobs of dead ones
-- (the bot and a CLI may run on the same data folder at once).
CREATE TABLE workers (
  id           TEXT PRIMARY KEY,
  host         TEXT NOT NULL,
  pid          INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE seeds (
  job_id            INTEGER PRIMARY KEY REFERENCES jobs(id),
  seed              INTEGER NOT NULL,
  command           TEXT NOT NULL,
  params            TEXT NOT NULL,
  model             TEXT,
  checkpoint_id     INTEGER REFERENCES checkpoints(id),
  checkpoint_sha256 TEXT,
  engine_version    TEXT NOT NULL,
  output_sha256     TEXT,
  created_at        INTEGER NOT NULL
);
CREATE INDEX seeds_by_recipe ON seeds (command, seed);

CREATE TABLE artifacts (
  sha256     TEXT PRIMARY KEY,
  ext        TEXT NOT NULL,
  mime       TEXT NOT NULL,
  bytes      INTEGER NOT NULL,
  path       TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE job_outputs (
  job_id          INTEGER NOT NULL REFERENCES jobs(id),
  ordinal         INTEGER NOT NULL,
  artifact_sha256 TEXT NOT NULL REFERENCES artifacts(sha256),
  caption         TEXT,
  PRIMARY KEY (job_id, ordinal)
) WITHOUT ROWID;

CREATE TABLE training_runs (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id      INTEGER REFERENCES jobs(id),
  model_kind  TEXT NOT NULL,
  settings    TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
  started_at  INTEGER NOT NULL,
  finished_at INTEGER
);

CREATE TABLE training_epochs (
  run_id  INTEGER NOT NULL REFERENCES training_runs(id),
  epoch   INTEGER NOT NULL,
  loss    REAL NOT NULL,
  seconds REAL,
  PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id     INTEGER REFERENCES training_runs(id),
  model_kind TEXT NOT NULL,
  name       TEXT NOT NULL,
  path       TEXT NOT NULL,
  sha256     TEXT NOT NULL,
  epoch      INTEGER,
  committed  INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE (model_kind, name)
);

CREATE TABLE sample_grids (
  run_id          INTEGER NOT NULL REFERENCES training_runs(id),
  epoch           INTEGER NOT NULL,
  artifact_sha256 TEXT NOT NULL REFERENCES artifacts(sha256),
  PRIMARY KEY (run_id, epoch, artifact_sha256)
) WITHOUT ROWID;

CREATE TABLE default_checkpoints (
  model_kind    TEXT PRIMARY KEY,
  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id)
) WITHOUT ROWID;

CREATE TABLE gallery_posts (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id         INTEGER NOT NULL UNIQUE REFERENCES jobs(id),
  platform       TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  title          TEXT,
  published_at   INTEGER NOT NULL,
  removed_at     INTEGER,
  removed_by     TEXT,
  removal_reason TEXT
);
CREATE INDEX gallery_by_user ON gallery_posts (platform, user_id, id);

CREATE TABLE gallery_votes (
  post_id   INTEGER NOT NULL REFERENCES gallery_posts(id),
  platform  TEXT NOT NULL,
  user_id   TEXT NOT NULL,
  reaction  TEXT NOT NULL,
  voted_at  INTEGER NOT NULL,
  PRIMARY KEY (post_id, platform, user_id, reaction)
) WITHOUT ROWID;

CREATE TABLE embeddings (
  model        TEXT NOT NULL,
  prompt       TEXT NOT NULL,
  dtype        TEXT NOT NULL CHECK (dtype IN ('float32', 'float16')),
  dims         TEXT NOT NULL,
  data         BLOB NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  hits         INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (model, prompt)
) WITHOUT ROWID;
`;

export const migrations: readonly Migration[] = [
  { version: 1, name: 'initial schema', sql: initialSchema },
  // The file name an output is written under (views.png, animation.gif), so the CLI and the web
  // console can save a job's files as the technique named them; NULL for older rows.
  { version: 2, name: 'output file names', sql: 'ALTER TABLE job_outputs ADD COLUMN name TEXT;' },
];

/** The schema version this build writes. */
export const latestSchemaVersion = migrations.reduce((v, m) => Math.max(v, m.version), 0);
