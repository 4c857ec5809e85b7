import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { buildApp } from './app';
import type { Config } from './config';
import { databaseFile } from './config/load';
import { openDatabase } from './storage/db';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export function makeLogger(config: Config): pino.Logger {
  const level = (config.loglevel || 'info').toLowerCase();
  if (config.logfile) return pino({ level }, pino.destination({ dest: config.logfile, mkdir: true, sync: false }));
  if (process.stdout.isTTY) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard' } } });
  }
  return pino({ level });
}

/** Process concerns only: open the database, listen, and shut down cleanly on a signal. */
export async function startServer(config: Config, opts: { installSignals?: boolean } = {}): Promise<RunningServer> {
  const db = openDatabase(databaseFile(config), { synchronous: config.sql.synchronous });
  const logger = makeLogger(config);
  const { app } = buildApp({ config, db, logger });
  await app.listen({ host: config.hostname || '0.0.0.0', port: config.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.hostname && config.hostname !== '0.0.0.0' ? config.hostname : 'localhost'}:${port}`;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      app.cdb.state.enabled = false;
      await app.close();
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // A checkpoint is an optimisation; the WAL is replayed at the next open anyway.
      }
      db.close();
    })());
  if (opts.installSignals) {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        app.log.info({ signal: sig }, 'shutting down');
        close().then(
          () => process.exit(0),
          (e) => {
            app.log.error({ err: e }, 'error during shutdown');
            process.exit(1);
          },
        );
      });
    }
  }
  return { app, url, close };
}
