import { NotFoundError } from '../../errors';
import { transformListing } from '../../pipescript';
import { interpolatorListing } from '../../query';
import { COOKIE_NAME } from '../auth';
import { type Register, sendJSON, sendText } from '../context';
import { VERSION } from '../../version';

type Q = Record<string, string | undefined>;


/** `/api/v1/?q=…`, login, logout and meta (rest-api §4). */
export const registerRoot: Register = (app, { svc, api, config, cookies }) => {
  app.get(
    '/api/v1',
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
    api((req, reply, op) => {
      if (op.nobody || op.device.apikey === '') {
        // Never a cookie for nobody: the original's empty-key cookie logged in as a meta device.
        reply.header('set-cookie', `${COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`);
        return sendText(reply, 'ok');
      }
      const r = (req.query as Q).remember;
      const remember = r === undefined ? config.cookie.remember : r === 'true';
      const maxAge = remember ? `; Max-Age=${config.cookie.maxage}` : '';
      reply.header('set-cookie', `${COOKIE_NAME}=${cookies.encode(op.device.apikey)}; Path=/${maxAge}; HttpOnly; SameSite=Lax`);
      return sendText(reply, 'ok');
    }),
  );

  app.get(
    '/api/v1/logout',
    api((_req, reply) => {
      reply.header('set-cookie', `${COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`);
      return sendText(reply, 'ok');
    }),
  );

  // Beyond the original: storage figures for admins (connectordb dbinfo over REST). The path was
  // a 404 before and no route of the original lives under it.
  app.get(
    '/api/v1/meta/dbinfo',
    api(async (_req, reply, op) => sendJSON(reply, await svc.data.storageInfo(op))),
  );
  app.get('/api/v1/meta/version', (_req, reply) => sendText(reply, VERSION, false));
  app.get('/api/v1/meta/transforms', (_req, reply) => sendJSON(reply, transformListing()));
  app.get('/api/v1/meta/interpolators', (_req, reply) => sendJSON(reply, interpolatorListing()));
};
