import Fastify, { type FastifyInstance, type FastifyBaseLogger, type FastifyReply, LogController } from 'fastify';
import type { Config } from './config';
import { buildServices, type Services } from './domain';
import { Permissions, defaultPermissions } from './permissions';
import type { Storage } from './storage/types';
import type { PubSub } from './pubsub';
import { CookieCodec } from './http/auth';
import { BadJson, type HttpContext, MAX_JSON_DEPTH, jsonDepthExceeds, makeContext, nonFiniteMessage } from './http/context';
import { errorHandler, sendError } from './http/errors';
import { clientErrorHandler } from './http/framing';
import { registerCrud } from './http/routes/crud';
import { registerData } from './http/routes/data';
import { registerFeed } from './http/routes/feed';
import { registerQuery } from './http/routes/query';
import { registerRoot } from './http/routes/root';
import { registerWeb } from './http/web';
import { registerWebsite, sendNotFoundPage } from './http/website';
import { registerWebsocket } from './http/websocket';
import { SHARED_SCHEMAS } from './http/schemas';
import { openapiOptions, registerOpenapi } from './http/openapi';
import { registerMetrics } from './http/metrics';
import { configurePipeScript } from './pipescript';
import { configureInterpolators } from './query';

export interface AppOptions {
  config: Config;
  storage: Storage;
  permissions?: Permissions;
  /**
   * The live-data bus (src/pubsub/select.ts: NATS or LISTEN/NOTIFY between the processes of a
   * PostgreSQL deployment); in-process when absent. The caller closes it after the app.
   */
  bus?: PubSub;
  /** A pino logger instance (Fastify 5 takes instances as `loggerInstance`). */
  logger?: FastifyBaseLogger;
}

declare module 'fastify' {
  interface FastifyInstance {
    cdb: HttpContext;
    /** Every registered route (method, URL pattern). */
    routeTable: { method: string; url: string }[];
  }
}

const SECURITY_HEADERS = { 'x-frame-options': 'deny', 'x-xss-protection': '1; mode=block', 'x-content-type-options': 'nosniff' };
const isApiUrl = (url: string): boolean => url === '/api' || url.startsWith('/api/') || url.startsWith('/api?');

/**
 * The query string as the original read it (Go's `URL.Query().Get`): a repeated parameter counts
 * with its first value (`?q=this&q=countusers` is `q=this`), so no route ever sees an array.
 */
export function firstValueQuery(qs: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of new URLSearchParams(qs)) if (!Object.prototype.hasOwnProperty.call(out, k)) out[k] = v;
  return out;
}

/** Strips credentials from a URL before it reaches a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]apikey=)[^&]*/gi, '$1[redacted]');
}

/**
 * Builds the Fastify app with every route wired, on an open database. No listen(): the server
 * (src/server.ts) and the tests decide how to serve it.
 */
export function buildApp(opts: AppOptions): { app: FastifyInstance; services: Services } {
  const { config, storage } = opts;
  configurePipeScript({
    splitMax: config.pipescript.split_max,
    stringMax: config.pipescript.string_max,
    peekMax: config.pipescript.peek_max,
    maxNesting: config.pipescript.max_nesting,
    maxStages: config.pipescript.max_stages,
    disableTransforms: config.pipescript.disable_transforms,
  });
  configureInterpolators({ disable: config.pipescript.disable_interpolators });
  const services = buildServices(storage, config, opts.permissions ?? new Permissions(defaultPermissions()), opts.bus);
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    bodyLimit: config.insert_limit_bytes,
    // X-Forwarded-For/-Proto only from the configured proxies: req.ip keys the failed-login limit
    // and req.protocol decides the Secure cookie attribute.
    ...(config.trust_proxy.trim() !== '' ? { trustProxy: config.trust_proxy } : {}),
    // Our onResponse hook writes the one line per request (credentials redacted).
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 500, querystringParser: firstValueQuery },
    // The original registered no HEAD routes: HEAD is a wrong method (rest-api §10.2).
    exposeHeadRoutes: false,
    // Router-level failures (undecodable URL, over-long segment) still answer the error JSON (§1.5).
    frameworkErrors: (err, req, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 400;
      const msg = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path segment is too long' : err.code === 'FST_ERR_BAD_URL' ? 'The path is not a valid URL' : err.message;
      // No hooks run for these replies: set the headers every response carries (§1.4) here.
      reply.headers(SECURITY_HEADERS);
      if (isApiUrl(req.url)) return sendError(reply, status, msg);
      return (reply as FastifyReply).code(status).type('text/plain; charset=utf-8').send(msg);
    },
    // The original gave a whole request http_read_timeout (5 s) to arrive, which made 10 MiB uploads
    // from phones on slow links fail; we allow a minute more than that before giving up.
    // Framing errors from Node's HTTP parser answer the ConnectorDB error body too.
    clientErrorHandler,
    requestTimeout: config.http_read_timeout > 0 ? config.http_read_timeout * 1000 + 60000 : 0,
  });
  const ctx = makeContext(services, config, new CookieCodec(config));
  app.decorate('cdb', ctx);

  // Bodies are JSON whatever the Content-Type says, and an empty body is no body (rest-api §1.3).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0 || /^\s*$/.test(text)) return done(null, undefined);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return done(null, new BadJson(e instanceof Error ? e.message : 'invalid JSON'));
    }
    // Values nested deeper than this overflow the stack of JSON.stringify, schema validation and
    // PipeScript; the original's decoder also had a depth limit (Go's is 10000).
    if (text.length > MAX_JSON_DEPTH && jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
      return done(null, new BadJson(`exceeded max depth of ${MAX_JSON_DEPTH} nested arrays and objects`));
    }
    const huge = nonFiniteMessage(text, value);
    if (huge !== null) return done(null, new BadJson(huge));
    done(null, value);
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    if (req.url.startsWith('/api')) setCors(config, req.headers.origin, (k, v) => reply.header(k, v));
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    // One line per request; the URL is redacted and no header is logged.
    req.log.info(
      { method: req.method, url: redactUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, op: req.operator },
      'request',
    );
  });

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    if (isApiUrl(req.url)) {
      return sendError(reply, 404, 'This path is not recognized');
    }
    return sendNotFoundPage(reply);
  });

  app.options('*', (req, reply) => {
    setCors(config, req.headers.origin, (k, v) => reply.header(k, v));
    reply.header('access-control-allow-headers', 'Content-Type, Authorization');
    return reply.code(200).send('');
  });

  // Every route, for the OpenAPI completeness check.
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) routes.push({ method: m, url: r.url });
  });
  app.decorate('routeTable', routes);

  // The schemas document the API; the handlers keep parsing and answering as the original did
  // (Go-style parameters, its error messages), so nothing is validated, coerced or re-serialised.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // OpenAPI from the route schemas: @fastify/swagger sees the routes of the plugins loaded after it.
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  // Loaded when the app starts, not when the CLI loads this module.
  app.register(import('@fastify/swagger'), openapiOptions());
  app.register(async (api) => {
    registerRoot(api, ctx);
    registerCrud(api, ctx);
    registerData(api, ctx);
    registerQuery(api, ctx);
    registerFeed(api, ctx);
  });
  const hub = registerWebsocket(app, ctx);
  registerMetrics(app, ctx, hub);
  registerOpenapi(app);
  registerWebsite(app, ctx);
  // Retention sweep: trims streams to their retention exactly (inserts drop whole chunks only).
  const sweep = setInterval(() => {
    services.data.sweepRetention().then(
      (n) => {
        if (n > 0) app.log.info({ datapoints: n }, 'retention sweep removed datapoints');
      },
      (e: unknown) => app.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'retention sweep failed; it runs again at the next interval'),
    );
  }, (config.retention?.sweep_interval ?? 60) * 1000);
  sweep.unref();
  app.addHook('onClose', async () => clearInterval(sweep));

  registerWeb(app, ctx);
  return { app, services };
}

/**
 * CORS (rest-api §1.7) without the original's hole: with `allowcrossorigin` off only the site's own
 * origin is echoed with credentials; with it on, foreign origins get `*` without credentials.
 */
function setCors(config: Config, origin: string | undefined, set: (k: string, v: string) => void): void {
  if (!origin) return;
  const site = siteOrigin(config);
  if (origin === site) {
    set('access-control-allow-origin', origin);
    set('access-control-allow-credentials', 'true');
  } else if (config.allowcrossorigin) {
    set('access-control-allow-origin', '*');
    set('access-control-allow-credentials', 'false');
  } else return;
  set('access-control-allow-methods', 'GET, POST, PUT, DELETE');
}

export function siteOrigin(config: Config): string {
  const s = config.siteurl || config.hostname || 'localhost';
  if (/^https?:\/\//.test(s)) return s.replace(/\/+$/, '');
  return `http://${s}:${config.port}`;
}
