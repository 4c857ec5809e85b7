import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpContext } from './context';
import type { Hub } from './websocket';

export const METRICS_PATH = '/metrics';

const sha = (s: string) => createHash('sha256').update(s).digest();

/**
 * Prometheus metrics (`metrics.enabled`): HTTP requests by route and status with latencies, the
 * service counters, websocket connections and subscriptions, database size, and Node's own
 * process metrics (memory, event-loop lag, GC). One registry per app, so test apps do not share.
 */
export function registerMetrics(app: FastifyInstance, ctx: HttpContext, hub: Hub): void {
  const cfg = ctx.config.metrics;
  if (!cfg.enabled) return;
  const core = ctx.svc.core;
  // On the root so every route and the not-found answers are counted; set once prom-client is loaded.
  let observe: ((req: FastifyRequest, reply: FastifyReply) => void) | null = null;
  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    if (observe) observe(req, reply);
  });
  // prom-client is loaded only when metrics are on: it costs a third of a second at every start
  // of the CLI otherwise.
  app.register(async (inst) => {
    const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = await import('prom-client');
    const register = new Registry();
    collectDefaultMetrics({ register, eventLoopMonitoringPrecision: 20 });

    const http = new Histogram({
      name: 'connectordb_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status: latency in seconds (_count is the number of requests)',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [register],
    });
    // The route pattern, never the URL: bounded label values whatever clients send.
    observe = (req, reply) =>
      http.observe({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);

    const total = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [register],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    total('connectordb_datapoints_inserted_total', 'Datapoints stored by inserts (REST, websocket, meta log, import)', () => core.counters.datapointsInserted);
    total('connectordb_datapoints_read_total', 'Stored datapoints read by data reads, feeds, merges and datasets', () => core.counters.datapointsRead);
    total('connectordb_failed_logins_total', 'Requests and websocket handshakes refused with 401', () => core.counters.failedLogins);

    const batches = new Histogram({
      name: 'connectordb_insert_batch_size',
      help: 'Datapoints per stored insert request',
      buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000],
      registers: [register],
    });
    core.counters.onInsertBatch = (n) => batches.observe(n);

    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [register],
        collect() {
          this.set(read());
        },
      });
    gauge('connectordb_websocket_connections', 'Open websocket connections', () => hub.conns.size);
    gauge('connectordb_websocket_subscriptions', 'Live websocket subscriptions (connection, stream, transform)', () => hub.subscriptionCount());
    // One query for the three storage figures per scrape.
    let sizes = { databaseBytes: 0, datapoints: 0 };
    gauge('connectordb_database_bytes', 'Size of the database pages in bytes', () => (sizes = core.stats.sizes()).databaseBytes);
    gauge('connectordb_datapoints_stored', 'Datapoints stored in all streams', () => sizes.datapoints);
    gauge('connectordb_database_bytes_per_datapoint', 'Database bytes divided by stored datapoints (0 when empty)', () =>
      sizes.datapoints > 0 ? sizes.databaseBytes / sizes.datapoints : 0,
    );

    const want = cfg.token === '' ? null : sha(cfg.token);
    inst.get(METRICS_PATH, async (req, reply) => {
      if (want) {
        const m = /^bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
        if (!m || !timingSafeEqual(sha(m[1].trim()), want)) {
          return reply.code(401).header('www-authenticate', 'Bearer').type('text/plain; charset=utf-8').send('metrics: a valid bearer token is required\n');
        }
      }
      const text = await register.metrics();
      return reply.header('cache-control', 'no-store').type(register.contentType).send(text);
    });
    inst.addHook('onClose', async () => {
      core.counters.onInsertBatch = null;
      register.clear();
    });
  });
}
