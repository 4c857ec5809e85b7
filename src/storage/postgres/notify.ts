import pg from 'pg';

/** Reconnect backoff, ms: doubles from MIN to MAX. */
const MIN_DELAY = 100;
const MAX_DELAY = 5000;

/**
 * Cross-process metadata change notices: one dedicated connection (outside the pool, so a busy
 * pool never delays it and a LISTEN never ties up a pooled client) listening on this schema's
 * channel, `cdb_channel('meta')`, which the schema's triggers notify on every committed change
 * of users, devices or streams. Every notice runs the change listeners.
 *
 * When the connection drops, notices may be lost: the listeners run once at the drop and once
 * when listening again, and in between `down` is true, so `pollChanges` reports a change on every
 * poll and the caches are bypassed (storage/types.ts). It reconnects with a doubling backoff.
 */
export class MetaListener {
  private client: pg.Client | undefined;
  private channel = '';
  private up = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private delay = MIN_DELAY;

  constructor(
    private readonly uri: string,
    private readonly changed: () => void,
    private readonly applicationName = 'connectordb-listen',
  ) {}

  /** True while notices may be missed (not listening). */
  get down(): boolean {
    return !this.up;
  }

  /** Connects and listens; rejects when the first attempt fails (reconnects only after a success). */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const c = new pg.Client({ connectionString: this.uri, application_name: this.applicationName });
    // Without an 'error' listener a dropped connection would crash the process.
    c.on('error', () => this.lost(c));
    c.on('end', () => this.lost(c));
    c.on('notification', (m) => {
      if (m.channel === this.channel) this.changed();
    });
    try {
      await c.connect();
      const r = await c.query<{ ch: string }>("SELECT cdb_channel('meta') AS ch");
      this.channel = r.rows[0].ch;
      await c.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
    } catch (e) {
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => {});
      void c.end().catch(() => {});
      throw e;
    }
    if (this.stopped) {
      await c.end().catch(() => {});
      return;
    }
    this.client = c;
    this.up = true;
    this.delay = MIN_DELAY;
  }

  private lost(c: pg.Client): void {
    if (this.client !== c) return;
    this.client = undefined;
    this.up = false;
    c.removeAllListeners('notification');
    this.changed();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().then(
        // Notices sent while it was down are gone: whatever the caches hold may be stale.
        () => this.changed(),
        () => {
          this.delay = Math.min(this.delay * 2, MAX_DELAY);
          this.schedule();
        },
      );
    }, this.delay);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const c = this.client;
    this.client = undefined;
    this.up = false;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => {});
    }
  }

  /** For tests: the backend pid of the listening connection (to terminate it). */
  async backendPid(): Promise<number | undefined> {
    const c = this.client;
    if (!c) return undefined;
    const r = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return r.rows[0].pid;
  }
}
