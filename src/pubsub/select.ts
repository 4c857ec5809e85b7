import type { Config } from '../config';
import type { Storage } from '../storage/types';
import { LocalPubSub, type PubSub } from './index';
import { NatsPubSub } from './nats';
import { OrderedPubSub } from './ordered';
import { PgNotifyPubSub } from './pgnotify';
import { storageSource } from './source';

export type BusKind = 'local' | 'nats' | 'pgnotify';

export interface OpenBusOptions {
  /** The PostgreSQL URI the NOTIFY bus listens with (the storage's). */
  pgUri?: string;
  /** NATS subject prefix (tests keep apart on one server). */
  subjectPrefix?: string;
  /** Gap timeout of the reorder step (ms). */
  gapMs?: number;
  log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

/** Which bus a configuration gets: SQLite is one process; PostgreSQL uses NATS when `nats.hostname` is set. */
export function busKind(config: Config, storage: Pick<Storage, 'kind'>): BusKind {
  if (storage.kind !== 'postgres') return 'local';
  return config.nats.hostname !== '' ? 'nats' : 'pgnotify';
}

/** Unreachable NATS at start: one clear error naming the address and the keys (see openBus). */
export class BusStartError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'BusStartError';
  }
}

/**
 * The live-data bus of a server process. SQLite: in-process. PostgreSQL: NATS or LISTEN/NOTIFY,
 * behind the reorder step that puts the batches of several writer processes in index order.
 *
 * An unreachable NATS server at start is an error, not a background retry: a process that served
 * without it would accept websocket subscriptions and silently never deliver the inserts made
 * through the other processes. The supervisor (systemd, compose `restart:`) retries the start;
 * once running, lost connections are retried forever by the client (NatsPubSub).
 */
export async function openBus(config: Config, storage: Storage, opts: OpenBusOptions = {}): Promise<PubSub> {
  const kind = busKind(config, storage);
  if (kind === 'local') return new LocalPubSub();
  const log = opts.log ?? (() => {});
  const source = storageSource(storage);
  if (kind === 'nats') {
    const n = config.nats;
    let inner: NatsPubSub;
    try {
      inner = await NatsPubSub.connect({
        hostname: n.hostname,
        port: n.port,
        username: n.username,
        password: n.password,
        subjectPrefix: opts.subjectPrefix,
        log: (m, f) => log('warn', m, f),
      });
    } catch (e) {
      throw new BusStartError(
        `Cannot connect to the NATS server at ${n.hostname}:${n.port} (nats.hostname/nats.port, CONNECTORDB_NATS_HOSTNAME/_PORT): ${e instanceof Error ? e.message : String(e)}. ` +
          'Start NATS first, or leave nats.hostname empty to carry live data over PostgreSQL LISTEN/NOTIFY.',
      );
    }
    log('info', 'live-data bus: NATS', { server: `${n.hostname}:${n.port}` });
    return new OrderedPubSub(inner, source, { gapMs: opts.gapMs, log: (m, f) => log('info', m, f) });
  }
  if (!opts.pgUri) throw new BusStartError('The LISTEN/NOTIFY bus needs the PostgreSQL URI of the storage');
  const inner = await PgNotifyPubSub.open({ uri: opts.pgUri, source, log: (m, f) => log('warn', m, f) });
  log('info', 'live-data bus: PostgreSQL LISTEN/NOTIFY (no nats.hostname configured)', { channel: inner.channel });
  return new OrderedPubSub(inner, source, { gapMs: opts.gapMs, log: (m, f) => log('info', m, f) });
}
