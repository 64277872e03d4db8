/**
 * Binds the HTTP app to a socket, and shuts it down gracefully: stop accepting connections, end
 * the event streams, let requests in flight finish (up to `shutdownTimeoutMs`), then close what
 * is left. The engine is the caller's to stop (after the server, so in-flight requests can finish).
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { HttpApp } from './app.js';

export interface ListenOptions {
  /** Default 3000; 0 picks a free port. */
  port?: number;
  /** Default '127.0.0.1': listening on every interface is an explicit choice ('0.0.0.0'). */
  host?: string;
  /** How long close() waits for requests in flight (default 10 s). */
  shutdownTimeoutMs?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function listen(http: HttpApp, options: ListenOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    let server: ServerType | undefined = undefined;
    const onError = (err: Error): void => reject(err);
    server = serve({ fetch: http.app.fetch, port: options.port ?? 3000, hostname: host }, (info: AddressInfo) => {
      const s = server as ServerType;
      s.off('error', onError);
      const port = info.port;
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      let closing: Promise<void> | undefined;
      resolve({
        url,
        port,
        close: () =>
          (closing ??= new Promise<void>((done) => {
            const timer = setTimeout(() => {
              // Requests still running after the grace period are cut off.
              (s as { closeAllConnections?: () => void }).closeAllConnections?.();
            }, options.shutdownTimeoutMs ?? 10_000);
            // Connections that finish their request become idle keep-alive sockets, which would hold
            // close() open until their keep-alive timeout; they are closed as they become idle.
            const closeIdle = (): void => (s as { closeIdleConnections?: () => void }).closeIdleConnections?.();
            const sweep = setInterval(closeIdle, 25);
            s.close(() => {
              clearTimeout(timer);
              clearInterval(sweep);
              done();
            });
            http.close();
            closeIdle();
          })),
      });
    });
    server.once('error', onError);
  });
}
