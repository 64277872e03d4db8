export { PostgresStore, isConnectionError } from './postgres-store.js';
export { redactUrl } from '../../util/url.js';
export type { PostgresStoreOptions } from './postgres-store.js';
export { SCHEMA_VERSION } from './migrations.js';
