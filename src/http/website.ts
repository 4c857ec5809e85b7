import type { FastifyReply } from 'fastify';
import { CdbError } from '../errors';
import { type Register, requireBody } from './context';
import { sendError } from './errors';
import { COOKIE_NAME } from './auth';

const page = (title: string, body: string) =>
  `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

export function sendNotFoundPage(reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .type('text/html; charset=utf-8')
    .send(page('Not Found', '<h1>404</h1><p>The page you are looking for does not exist.</p>'));
}

/**
 * A minimal website: the web app itself is not part of this server, but `/`, `/login` and
 * `/logout` keep their cookie behaviour so links and custom login pages still work.
 */
export const registerWebsite: Register = (app, { api, svc, cookies, config }) => {
  app.get(
    '/',
    api((_req, reply, op) =>
      reply
        .type('text/html; charset=utf-8')
        .send(
          page(
            'ConnectorDB',
            op.nobody
              ? '<h1>ConnectorDB</h1><p>Log in with your ConnectorDB client, or GET /api/v1/login with Basic auth.</p>'
              : `<h1>ConnectorDB</h1><p>Logged in as ${op.name.replace(/[<>&]/g, '')}.</p>`,
          ),
        ),
    ),
  );
  app.get(
    '/login',
    api((_req, reply, op) => {
      if (op.nobody) return reply.type('text/html; charset=utf-8').send(page('Log in', '<p>Send Basic credentials to /api/v1/login.</p>'));
      return reply.redirect('/', 302);
    }),
  );
  // The join form (rest-api §10.3): JSON user-create body with a name; the session switches to the new user.
  app.post(
    '/join',
    api(async (req, reply, op) => {
      const perms = svc.core.permissions;
      const role = perms.userRole(op.user.role);
      const max = perms.file.max_users;
      if (!role.join || (max >= 0 && (await svc.core.users.count()) >= max)) return sendError(reply, 403, role.join_disabled_message);
      const body = requireBody(req);
      const name = body && typeof body === 'object' && typeof (body as { name?: unknown }).name === 'string' ? (body as { name: string }).name : '';
      try {
        await svc.users.create(op, name, body, role.join_role);
      } catch (e) {
        if (e instanceof CdbError) return sendError(reply, 400, e.message);
        throw e;
      }
      const u = (await svc.core.users.get(name))!;
      const dev = (await svc.core.devices.get(u.id, 'user'))!;
      const maxAge = config.cookie.remember ? `; Max-Age=${config.cookie.maxage}` : '';
      reply.header('set-cookie', `${COOKIE_NAME}=${cookies.encode(dev.apikey)}; Path=/${maxAge}; HttpOnly; SameSite=Lax`);
      return reply.type('text/plain; charset=utf-8').send('ok');
    }),
  );
  app.get('/join', (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(page('Join', '<p>POST a JSON body {"name","email","password"} to /join to create an account, if joining is enabled.</p>')),
  );
  app.get('/logout', (_req, reply) => {
    reply.header('set-cookie', `${COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`);
    return reply.redirect('/', 302);
  });
};
