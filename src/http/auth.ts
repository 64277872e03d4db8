/**
 * Who is calling, and may they: API keys (see api-keys.ts) and, optionally, JWT bearer tokens
 * verified against a JWKS with a fixed issuer and audience.
 *
 * Credentials come in `Authorization: Bearer <token>` (or `X-API-Key: <key>`). A token that starts
 * with `keel_` is an API key; any other bearer token is a JWT when JWT is configured. Missing or
 * wrong credentials are 401, a valid principal without the scope is 403. Error messages and log
 * lines never include the presented token.
 */
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ApiKeyFile, looksLikeApiKey, SCOPES, scopeAllows, type Scope } from './api-keys.js';
import { HttpError, HttpErrorCode } from './errors.js';

export interface JwtOptions {
  /** Where the signing keys are published (e.g. https://issuer/.well-known/jwks.json). */
  jwksUrl?: string;
  /** A key resolver instead of a URL (e.g. jose's createLocalJWKSet). */
  jwks?: JWTVerifyGetKey;
  issuer: string;
  audience: string;
  /** Claim holding the scopes: a space-separated string or an array (default 'scope'; 'scp' is also read).
   * Values 'read' | 'write' | 'admin', optionally prefixed 'keel:'. */
  scopeClaim?: string;
}

export interface AuthOptions {
  /** API keys file; omit to accept JWTs only. */
  keys?: ApiKeyFile | string;
  jwt?: JwtOptions;
}

export interface Principal {
  kind: 'api-key' | 'jwt';
  /** API key id or JWT subject: safe to log. */
  id: string;
  scope: Scope;
}

const unauthorized = (message: string): HttpError => new HttpError(401, HttpErrorCode.Unauthorized, message);

export class Authenticator {
  private readonly keys: ApiKeyFile | undefined;
  private readonly jwks: JWTVerifyGetKey | undefined;

  constructor(private readonly options: AuthOptions) {
    this.keys = typeof options.keys === 'string' ? new ApiKeyFile(options.keys) : options.keys;
    const jwt = options.jwt;
    if (jwt) {
      if (!jwt.jwks && !jwt.jwksUrl) throw new TypeError('JWT authentication needs jwksUrl or jwks.');
      this.jwks = jwt.jwks ?? createRemoteJWKSet(new URL(jwt.jwksUrl as string));
    }
    if (!this.keys && !this.jwks) throw new TypeError('Authentication needs API keys, a JWT configuration, or both.');
  }

  /** The principal behind a request's credentials; throws 401. */
  async authenticate(headers: Headers): Promise<Principal> {
    const header = headers.get('authorization');
    let token = headers.get('x-api-key') ?? undefined;
    if (header !== null) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!m) throw unauthorized("The Authorization header must be 'Bearer <token>'.");
      token = m[1];
    }
    if (token === undefined) throw unauthorized("Credentials are missing: send 'Authorization: Bearer <API key or token>'.");
    if (looksLikeApiKey(token)) {
      const key = this.keys?.verify(token);
      if (!key) throw unauthorized('The API key is not valid (unknown, revoked or mistyped).');
      return { kind: 'api-key', id: key.id, scope: key.scope };
    }
    if (!this.jwks || !this.options.jwt) throw unauthorized('The token is not a Keel API key, and this server does not accept JWTs.');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, { issuer: this.options.jwt.issuer, audience: this.options.jwt.audience }));
    } catch (err) {
      // jose's messages name the failed check (expired, audience, signature) but never the token.
      throw unauthorized(`The token was refused: ${(err as Error).message}`);
    }
    const scope = highestScope(payload[this.options.jwt.scopeClaim ?? 'scope'] ?? payload.scp);
    if (!scope) throw new HttpError(403, HttpErrorCode.Forbidden, `The token grants no Keel scope (${SCOPES.join(', ')}).`);
    return { kind: 'jwt', id: typeof payload.sub === 'string' ? payload.sub : 'jwt', scope };
  }

  /** Throws 403 unless the principal's scope covers `needed`. */
  static authorize(principal: Principal, needed: Scope): void {
    if (!scopeAllows(principal.scope, needed)) {
      throw new HttpError(403, HttpErrorCode.Forbidden, `This needs the '${needed}' scope; the credentials have '${principal.scope}'.`, {
        needed,
        held: principal.scope,
      });
    }
  }
}

function highestScope(claim: unknown): Scope | undefined {
  const values = typeof claim === 'string' ? claim.split(/\s+/) : Array.isArray(claim) ? claim.filter((v): v is string => typeof v === 'string') : [];
  let best: Scope | undefined;
  for (const v of values) {
    const name = v.startsWith('keel:') ? v.slice(5) : v;
    if ((SCOPES as readonly string[]).includes(name) && (!best || scopeAllows(name as Scope, best))) best = name as Scope;
  }
  return best;
}
