export { PostgresStore, isConnectionError, redactUrl } from './postgres-store.js';
export type { PostgresStoreOptions } from './postgres-store.js';
export { SCHEMA_VERSION } from './migrations.js';
