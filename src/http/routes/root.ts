import { NotFoundError } from '../../errors';
import { transformListing } from '../../pipescript';
import { interpolatorListing } from '../../query';
import { setSessionCookie } from '../auth';
import { type Register, sendJSON, sendText } from '../context';
import { sendError } from '../errors';
import { VERSION } from '../../version';
import { schemas } from '../schemas';

type Q = Record<string, string | undefined>;


/** `/api/v1/?q=…`, login, logout and meta (rest-api §4). */
export const registerRoot: Register = (app, { svc, api, config, cookies, state }) => {
  app.get(
    '/api/v1',
    { schema: schemas.root },
    api(async (req, reply, op) => {
      switch ((req.query as Q).q) {
        case 'this':
          return sendText(reply, op.name, false);
        case 'countusers':
          return sendText(reply, String(await svc.users.count(op, 'users')));
        case 'countdevices':
          return sendText(reply, String(await svc.users.count(op, 'devices')));
        case 'countstreams':
          return sendText(reply, String(await svc.users.count(op, 'streams')));
        default:
          throw new NotFoundError('This path is not recognized');
      }
    }),
  );

  app.get(
    '/api/v1/login',
    { schema: schemas.login },
    api((req, reply, op) => {
      if (op.nobody || op.device.apikey === '') {
        // Never a cookie for nobody: the original's empty-key cookie logged in as a meta device.
        setSessionCookie(reply, req, config, null);
        return sendText(reply, 'ok');
      }
      const r = (req.query as Q).remember;
      const remember = r === undefined ? config.cookie.remember : r === 'true';
      setSessionCookie(reply, req, config, cookies.encode(op.device.apikey), remember ? config.cookie.maxage : undefined);
      return sendText(reply, 'ok');
    }),
  );

  app.get(
    '/api/v1/logout',
    { schema: schemas.logout },
    api((req, reply) => {
      setSessionCookie(reply, req, config, null);
      return sendText(reply, 'ok');
    }),
  );

  // Beyond the original: storage figures for admins (connectordb dbinfo over REST). The path was
  // a 404 before and no route of the original lives under it.
  app.get(
    '/api/v1/meta/dbinfo',
    { schema: schemas.dbinfo },
    api(async (_req, reply, op) => sendJSON(reply, await svc.data.storageInfo(op))),
  );
  app.get('/api/v1/meta/version', { schema: schemas.version }, (_req, reply) => sendText(reply, VERSION, false));
  app.get('/api/v1/meta/transforms', { schema: schemas.transforms }, (_req, reply) => sendJSON(reply, transformListing()));
  app.get('/api/v1/meta/interpolators', { schema: schemas.interpolators }, (_req, reply) => sendJSON(reply, interpolatorListing()));

  // Liveness: the process answers HTTP. No auth, no database: a stuck disk must not get it killed.
  app.get('/api/v1/meta/health', { schema: schemas.health }, (_req, reply) => sendJSON(reply, { status: 'ok' }));
  // Readiness: the database answers and the API is not disabled or shutting down.
  app.get('/api/v1/meta/ready', { schema: schemas.ready }, async (req, reply) => {
    if (!state.enabled) return sendError(reply, 503, 'ConnectorDB is currently inactive');
    try {
      await svc.core.stats.ping();
    } catch (e) {
      req.log.error({ err: e instanceof Error ? e.message : String(e) }, 'readiness: the database does not answer');
      return sendError(reply, 503, 'The database does not answer');
    }
    return sendJSON(reply, { status: 'ready' });
  });
};
