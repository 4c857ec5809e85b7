import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from './app';
import type { Config } from './config';
import { resolvePath } from './config/load';
import { loadPermissions } from './config/permissions';
import type { Permissions } from './permissions';
import { type Storage, SqliteStorage, openStorage } from './storage';

export interface RunningServer {
  app: FastifyInstance;
  storage: Storage;
  url: string;
  logger: pino.Logger;
  close(): Promise<void>;
}

/**
 * Never a credential in a log line: the request log line of src/app.ts carries no headers and a
 * redacted URL; these paths are censored should any code log a request, headers or a body.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["set-cookie"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'password',
  'apikey',
  '*.password',
  '*.apikey',
  'body.password',
  'body.apikey',
];

/** pino: pretty on a terminal, JSON lines otherwise (and always in a log file). */
export function makeLogger(config: Config, dest?: pino.DestinationStream): pino.Logger {
  const level = (config.loglevel || 'info').toLowerCase();
  const base = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (dest) return pino(base, dest);
  if (config.logfile) return pino(base, pino.destination({ dest: resolvePath(config, config.logfile), mkdir: true, sync: false }));
  if (process.stdout.isTTY) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard', ignore: 'pid,hostname' } } });
  }
  return pino(base);
}

export interface StartOptions {
  /** Install SIGTERM/SIGINT handlers that shut down gracefully and exit the process. */
  installSignals?: boolean;
  permissions?: Permissions;
  logger?: pino.Logger;
  /** Warnings from loading the config, logged once the logger exists. */
  warnings?: string[];
}

/**
 * Process concerns only: open the database, listen, and shut down cleanly. Shutdown: the listener
 * stops accepting and new requests on open connections get 503; in-flight requests finish (up to `shutdown_timeout`
 * seconds, then their connections are closed); websockets get a close frame; the WAL is
 * checkpointed into the database file and SQLite is closed.
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const permissions = opts.permissions ?? loadPermissions(config);
  const logger = opts.logger ?? makeLogger(config);
  for (const w of opts.warnings ?? []) logger.warn(w);
  // SQLite: one server per database folder (a second one would miss the first's live updates);
  // PostgreSQL is shared by several servers by design (no lock, no quick_check).
  const storage = await openStorage(config, {
    lock: true,
    check: config.sql.quick_check ? (ms) => logger.info({ ms: Math.round(ms) }, 'database file checked (PRAGMA quick_check)') : undefined,
  });
  let app: FastifyInstance;
  try {
    app = buildApp({ config, storage, logger, permissions }).app;
    await app.listen({ host: config.hostname || '0.0.0.0', port: config.port });
  } catch (e) {
    await storage.close();
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.hostname && config.hostname !== '0.0.0.0' && config.hostname !== '::' ? config.hostname : 'localhost'}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // Requests already received finish (their handlers run even if the body is still
      // arriving); the listener stops accepting, and Fastify answers 503 to new requests on
      // kept-alive connections (return503OnClosing).
      const timer = setTimeout(() => {
        app.log.warn(`requests still running after ${config.shutdown_timeout}s: closing their connections`);
        app.server.closeAllConnections();
      }, config.shutdown_timeout * 1000);
      timer.unref();
      // Connections that finish their request during shutdown would otherwise linger for the
      // keep-alive timeout: close each as soon as it is idle.
      const idle = setInterval(() => app.server.closeIdleConnections(), 50);
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
        clearInterval(idle);
        // A checkpoint is an optimisation; the WAL is replayed at the next open anyway.
        if (storage instanceof SqliteStorage) await storage.close({ checkpoint: true, onCheckpointError: (e) => app.log.warn({ err: e }, 'WAL checkpoint failed') });
        else await storage.close();
      }
    })());
  if (opts.installSignals) installSignalHandlers(app, logger, close);
  return { app, storage, url, logger, close };
}

function installSignalHandlers(app: FastifyInstance, logger: pino.Logger, close: () => Promise<void>): void {
  let shuttingDown = false;
  const exit = (code: number) => {
    logger.flush(() => process.exit(code));
    // A worker-thread transport (pino-pretty) may not call back once the loop drains.
    setTimeout(() => process.exit(code), 500).unref();
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (shuttingDown) {
        app.log.warn({ signal: sig }, 'second signal: exiting without waiting');
        process.exit(1);
      }
      shuttingDown = true;
      app.log.info({ signal: sig }, 'shutting down: finishing in-flight requests');
      close().then(
        () => {
          app.log.info('shutdown complete; database checkpointed and closed');
          exit(0);
        },
        (e: unknown) => {
          app.log.error({ err: e }, 'error during shutdown');
          exit(1);
        },
      );
    });
  }
}
