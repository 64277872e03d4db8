/**
 * `keel/http`: the HTTP API as a Hono app over an Engine, and a function that binds it to a socket.
 *
 * @example
 * const engine = createEngine({ store: 'sqlite:./keel.db', workflows: [order] });
 * await engine.start();
 * const http = createHttpApp(engine, { auth: { keys: './keel-keys.json' } });
 * const server = await listen(http, { port: 3000 });
 * // … on SIGTERM:
 * await server.close();
 * await engine.stop();
 */
export { createHttpApp, type CorsOptions, type HttpApp, type HttpAppOptions } from './app.js';
export { listen, type ListenOptions, type RunningServer } from './server.js';
export { ApiKeyFile, SCOPES, type ApiKeyInfo, type Scope } from './api-keys.js';
export { Authenticator, type AuthOptions, type JwtOptions, type Principal } from './auth.js';
export { HttpError, HttpErrorCode, errorResponse } from './errors.js';
