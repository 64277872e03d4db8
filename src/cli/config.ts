/**
 * Operator settings, resolved in one place: `KEEL_*` environment variables < the config file <
 * command-line flags (docs/configuration.md lists every setting).
 *
 * The config file is `--config <path>`, else $KEEL_CONFIG, else the first of keel.config.json,
 * keel.config.ts, keel.config.js, keel.config.mjs in the current directory. JSON names workflow
 * modules by path; a .ts/.js config may also export the definitions themselves. `.ts` files (the
 * config or workflow modules) are loaded through tsx's `tsImport`, so a project that writes them
 * in TypeScript needs `tsx` installed (`keel init` adds it); otherwise point at built `.js` files.
 * Relative paths in a config file are relative to the file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, coerceError } from '../core/errors.js';
import type { AnyWorkflow } from '../engine/workflow.js';

export interface KeelConfig {
  store?: string;
  /** Module paths whose exported definitions are registered, or definitions (in .ts/.js configs). */
  workflows?: (string | AnyWorkflow)[];
  /** API keys file (default keel-keys.json next to the config, else in the current directory). */
  keysFile?: string;
  /** Folder of wizard definitions for `keel wizard`, `input` and `back`. */
  wizards?: string;
  http?: {
    port?: number;
    host?: string;
    maxBodyBytes?: number;
    cors?: { origin: string | string[]; credentials?: boolean };
    jwt?: { jwksUrl: string; issuer: string; audience: string; scopeClaim?: string };
  };
}

export interface Settings {
  store: string;
  workflows: (string | AnyWorkflow)[];
  keysFile: string;
  port: number;
  host: string;
  maxBodyBytes: number;
  cors?: { origin: string | string[]; credentials?: boolean };
  jwt?: { jwksUrl: string; issuer: string; audience: string; scopeClaim?: string };
  /** The wizard definitions folder, when one is set (the wizard commands have their own default). */
  wizards?: string;
  /** The config file used, if any. */
  configFile?: string;
}

export interface SettingFlags {
  config?: string;
  store?: string;
  port?: string;
  host?: string;
  keysFile?: string;
  /** The wizard definitions folder (`--definitions`). */
  definitions?: string;
}

const CANDIDATES = ['keel.config.json', 'keel.config.ts', 'keel.config.js', 'keel.config.mjs'];

/** Import a module by path; .ts through tsx. */
export async function importModule(path: string): Promise<Record<string, unknown>> {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new ConfigError(`The module '${path}' does not exist.`);
  try {
    if (/\.(c|m)?tsx?$/.test(abs)) {
      let api: { tsImport: (specifier: string, parent: string) => Promise<Record<string, unknown>> };
      try {
        api = (await import('tsx/esm/api'));
      } catch {
        throw new ConfigError(`Loading '${path}' needs tsx: install it (npm i -D tsx), or point the config at built .js files.`);
      }
      return await api.tsImport(pathToFileURL(abs).href, import.meta.url);
    }
    return (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Loading '${path}' failed: ${coerceError(err).message}`);
  }
}

async function readConfig(path: string): Promise<KeelConfig> {
  if (path.endsWith('.json')) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as KeelConfig;
    } catch (err) {
      throw new ConfigError(`The config file '${path}' is not valid JSON: ${(err as Error).message}.`);
    }
  }
  const mod = await importModule(path);
  return (mod.default ?? mod);
}

function envNumber(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${name} must be a whole number, not '${v}'.`);
  return n;
}

/**
 * The settings of a command, from its flags, the config file and the environment. `defaults.store`
 * is the store when none of them sets one (`keel machine run` tries machines in memory).
 */
export async function resolveSettings(flags: SettingFlags = {}, defaults: { store?: string } = {}): Promise<Settings> {
  const env = process.env;
  const explicit = flags.config ?? (env.KEEL_CONFIG || undefined);
  if (explicit !== undefined && !existsSync(explicit)) throw new ConfigError(`The config file '${explicit}' does not exist.`);
  const configFile = explicit ? resolve(explicit) : CANDIDATES.map((c) => resolve(c)).find((c) => existsSync(c));
  const config: KeelConfig = configFile ? await readConfig(configFile) : {};
  for (const key of ['store', 'wizards', 'keysFile'] as const) {
    const value = config[key];
    if (value !== undefined && typeof value !== 'string') {
      throw new ConfigError(`\`${key}\` in the config file '${configFile ?? ''}' must be a string, not ${JSON.stringify(value)}.`);
    }
  }
  const base = configFile ? dirname(configFile) : process.cwd();
  const rel = (p: string): string => (isAbsolute(p) ? p : resolve(base, p));
  // A relative SQLite path in a config file is relative to the file, like every other path there.
  const configStore = config.store?.startsWith('sqlite:') && !config.store.startsWith('sqlite::memory:') && configFile
    ? `sqlite:${rel(config.store.slice('sqlite:'.length))}`
    : config.store;

  const envWorkflows = env.KEEL_WORKFLOWS ? env.KEEL_WORKFLOWS.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const jwtEnv = env.KEEL_JWT_JWKS_URL && env.KEEL_JWT_ISSUER && env.KEEL_JWT_AUDIENCE
    ? { jwksUrl: env.KEEL_JWT_JWKS_URL, issuer: env.KEEL_JWT_ISSUER, audience: env.KEEL_JWT_AUDIENCE }
    : undefined;
  const corsEnv = env.KEEL_CORS_ORIGIN ? { origin: env.KEEL_CORS_ORIGIN.includes(',') ? env.KEEL_CORS_ORIGIN.split(',').map((s) => s.trim()) : env.KEEL_CORS_ORIGIN } : undefined;
  const port = flags.port !== undefined ? Number(flags.port) : (config.http?.port ?? envNumber('KEEL_PORT') ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`The port must be 0–65535, not '${String(flags.port ?? port)}'.`);

  const settings: Settings = {
    store: flags.store ?? configStore ?? (env.KEEL_STORE || env.KEEL_DATABASE_URL || defaults.store || 'sqlite:./keel.db'),
    workflows: config.workflows?.map((w) => (typeof w === 'string' ? rel(w) : w)) ?? envWorkflows ?? [],
    keysFile: flags.keysFile ?? (config.keysFile ? rel(config.keysFile) : undefined) ?? (env.KEEL_KEYS_FILE || resolve(base, 'keel-keys.json')),
    port,
    host: flags.host ?? config.http?.host ?? (env.KEEL_HOST || '127.0.0.1'),
    maxBodyBytes: config.http?.maxBodyBytes ?? envNumber('KEEL_MAX_BODY_BYTES') ?? 1024 * 1024,
  };
  const cors = config.http?.cors ?? corsEnv;
  if (cors) settings.cors = cors;
  const jwt = config.http?.jwt ?? jwtEnv;
  if (jwt) settings.jwt = jwt;
  const wizards = flags.definitions ?? (config.wizards ? rel(config.wizards) : undefined) ?? (env.KEEL_DEFINITIONS || undefined);
  if (wizards !== undefined) settings.wizards = wizards;
  if (configFile) settings.configFile = configFile;
  return settings;
}

function isDefinition(value: unknown): value is AnyWorkflow {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (v.kind === 'workflow' || v.kind === 'machine' || v.kind === 'tree') && typeof v.name === 'string' && typeof v.version === 'string' && typeof v.run === 'function';
}

/** The definitions of the settings: given ones as they are, modules' exported ones (arrays too). */
export async function loadWorkflows(settings: Pick<Settings, 'workflows'>): Promise<AnyWorkflow[]> {
  const out: AnyWorkflow[] = [];
  for (const entry of settings.workflows) {
    if (typeof entry !== 'string') {
      if (!isDefinition(entry)) throw new ConfigError('An entry of `workflows` in the config is neither a module path nor a definition.');
      out.push(entry);
      continue;
    }
    const mod = await importModule(entry);
    const found = Object.values(mod)
      .flatMap((v): unknown[] => (Array.isArray(v) ? (v as unknown[]) : [v]))
      .filter(isDefinition);
    if (found.length === 0) throw new ConfigError(`The module '${entry}' exports no workflow definitions (export what defineWorkflow returns).`);
    for (const d of found) if (!out.includes(d)) out.push(d);
  }
  return out;
}
