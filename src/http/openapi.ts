import type { FastifyInstance } from 'fastify';
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { VERSION } from '../version';
import { API_HEADERS } from './errors';

export const OPENAPI_PATH = '/api/v1/openapi.json';
export const DOCS_PATH = '/api/docs';

/** Routes outside the REST API (website, CORS preflight, the docs themselves) stay out of the document. */
const documented = (url: string): boolean => url.startsWith('/api/') && !url.startsWith(DOCS_PATH) && url !== OPENAPI_PATH;

export function openapiOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'ConnectorDB',
        version: VERSION,
        description:
          'The REST API of ConnectorDB 0.3 (wire-compatible) with its additions: downsampling reads, CSV, health. ' +
          'Errors are always {"code","msg","ref"}. Authenticate with HTTP Basic (user:password, or an empty user and a ' +
          'device API key as password), the apikey query parameter, or the session cookie; without any, requests act as nobody.',
      },
      components: {
        securitySchemes: {
          basic: { type: 'http', scheme: 'basic', description: 'user:password, or :apikey (empty user, the API key as password)' },
          apikey: { type: 'apiKey', in: 'query', name: 'apikey', description: 'A device API key' },
          session: { type: 'apiKey', in: 'cookie', name: 'connectordb-session', description: 'Set by GET /api/v1/login' },
        },
      },
      // {} = anonymous (the nobody operator) is allowed too.
      security: [{ basic: [] }, { apikey: [] }, { session: [] }, {}],
      tags: [
        { name: 'meta', description: 'Version, registries, login, health' },
        { name: 'users' },
        { name: 'devices' },
        { name: 'streams' },
        { name: 'data', description: 'Datapoints: JSON, CSV, downsampling' },
        { name: 'queries', description: 'Merges and datasets' },
        { name: 'feeds' },
        { name: 'websocket' },
      ],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transform: ({ schema, url }) => ({ schema: documented(url) ? schema : { ...(schema ?? {}), hide: true }, url }),
  };
}

/** `/api/v1/openapi.json` and the interactive page at `/api/docs` (assets served from node_modules, no CDN). */
export function registerOpenapi(app: FastifyInstance): void {
  app.get(OPENAPI_PATH, { schema: { hide: true } }, (_req, reply) =>
    reply.headers(API_HEADERS).type('application/json; charset=utf-8').send(JSON.stringify(app.swagger())),
  );
  app.register(import('@fastify/swagger-ui'), { routePrefix: DOCS_PATH, uiConfig: { url: OPENAPI_PATH } as Record<string, unknown> });
}
