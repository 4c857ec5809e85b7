import type { FastifyReply } from 'fastify';
import type { Register } from './context';
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
export const registerWebsite: Register = (app, { api }) => {
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
  app.get('/logout', (_req, reply) => {
    reply.header('set-cookie', `${COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`);
    return reply.redirect('/', 302);
  });
};
