// The store's public surface: SQLite persistence for jobs, seeds, artifacts, training runs,
// the gallery, the embeddings cache and users. Never imports the engine.
export * from './artifacts.js';
export * from './data-dir.js';
export * from './database.js';
export * from './embeddings.js';
export * from './errors.js';
export * from './gallery.js';
export * from './jobs.js';
export * from './migrations.js';
export * from './seeds.js';
export * from './store.js';
export * from './training.js';
export * from './users.js';
export * from './who.js';
