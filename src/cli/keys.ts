/**
 * `keel keys create|ls|revoke`: API keys for the HTTP server, kept hashed in the keys file
 * (src/http/api-keys.ts). The secret is printed once, at creation, and stored nowhere.
 */
import type { Command } from 'commander';
import { KeelError } from '../core/errors.js';
import { ApiKeyFile, SCOPES, type Scope } from '../http/api-keys.js';
import { resolveSettings, type SettingFlags } from './config.js';
import { table } from './wizard.js';

interface Flags extends SettingFlags {
  json?: boolean;
}

const out = (text: string): void => void process.stdout.write(`${text}\n`);

async function keyFile(o: Flags): Promise<ApiKeyFile> {
  return new ApiKeyFile((await resolveSettings(o)).keysFile);
}

const options = (c: Command): Command =>
  c
    .option('--config <path>', 'config file (default ./keel.config.json|ts|js)')
    .option('--keys-file <path>', 'API keys file (default keel-keys.json next to the config)')
    .option('--json', 'machine-readable output');

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('API keys for `keel serve`: create, list, revoke');

  options(keys.command('create').description('create a key and print its secret (shown once)').argument('<name>', 'what the key is for'))
    .option('--scope <scope>', `${SCOPES.join(' | ')} (admin ⊇ write ⊇ read)`, 'read')
    .action(async (name: string, o: Flags & { scope: string }) => {
      if (!SCOPES.includes(o.scope as Scope)) throw new KeelError('INVALID_ARGUMENT', `Unknown scope '${o.scope}': use one of ${SCOPES.join(', ')}.`);
      const file = await keyFile(o);
      const { key, secret } = file.create(name, o.scope as Scope);
      if (o.json) out(JSON.stringify({ ...key, secret }, null, 2));
      else out(`Created key ${key.id} '${key.name}' (${key.scope}) in ${file.path}.\n\n  ${secret}\n\nStore it now: it is not shown again. Send it as 'Authorization: Bearer <key>'.`);
    });

  options(keys.command('ls').description('list keys (never their secrets)')).action(async (o: Flags) => {
    const list = (await keyFile(o)).list();
    if (o.json) return out(JSON.stringify(list, null, 2));
    out(list.length === 0 ? 'No keys. Create one with `keel keys create <name> --scope read|write|admin`.' : table([['ID', 'NAME', 'SCOPE', 'CREATED', 'REVOKED'], ...list.map((k) => [k.id, k.name, k.scope, k.createdAt, k.revokedAt ?? ''])]));
  });

  options(keys.command('revoke').description('revoke a key: the server refuses it from the next request').argument('<id>', 'key id (or unique name)')).action(
    async (id: string, o: Flags) => {
      const key = (await keyFile(o)).revoke(id);
      if (o.json) out(JSON.stringify(key, null, 2));
      else out(`Revoked key ${key.id} '${key.name}'.`);
    },
  );
}
