import { it } from 'vitest';
import http from 'node:http';
import { ADMIN, createUser, makeApp } from '../helpers';

function raw(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((res, rej) => {
    const r = http.request({ host: '127.0.0.1', port, method, path, headers }, (resp) => {
      let d = '';
      resp.on('data', (c) => (d += c));
      resp.on('end', () => res({ status: resp.statusCode!, text: d, headers: resp.headers }));
    });
    r.on('error', rej);
    if (body !== undefined) r.write(body);
    r.end();
  });
}

it('probe', async () => {
  const t = await makeApp();
  await createUser(t, 'alice');
  const port = (t.app.server.address() as { port: number }).port;
  const show = (l: string, r: { status: number; text: string; headers: http.IncomingHttpHeaders }) => console.log(l, r.status, r.headers['content-type'], r.text.slice(0, 200));
  show('post no ctype', await raw(port, 'POST', '/api/v1/crud/alice/nc', { Authorization: ADMIN, 'Content-Length': '16' }, '{"nickname":"x"}'));
  show('post chunked no ctype', await raw(port, 'POST', '/api/v1/crud/alice/nc2', { Authorization: ADMIN, 'Transfer-Encoding': 'chunked' }, '{"nickname":"x"}'));
  show('HEAD', await raw(port, 'HEAD', '/api/v1/crud/alice', { Authorization: ADMIN }));
  show('get crud/ noq', await raw(port, 'GET', '/api/v1/crud/', { Authorization: ADMIN }));
  show('get api/v1/ noq', await raw(port, 'GET', '/api/v1/', { Authorization: ADMIN }));
  show('%2F', await raw(port, 'GET', '/api/v1/crud/alice%2Fuser', { Authorization: ADMIN }));
  show('array create', await raw(port, 'POST', '/api/v1/crud/alice/arr', { Authorization: ADMIN, 'Content-Type': 'application/json' }, '[1,2]'));
  show('string create', await raw(port, 'POST', '/api/v1/crud/alice/str', { Authorization: ADMIN, 'Content-Type': 'application/json' }, '"x"'));
  show('get with json body', await raw(port, 'GET', '/api/v1/crud/alice', { Authorization: ADMIN, 'Content-Type': 'application/json', 'Content-Length': '2' }, '{}'));
  show('get with bad json body', await raw(port, 'GET', '/api/v1/crud/alice', { Authorization: ADMIN, 'Content-Type': 'application/json', 'Content-Length': '3' }, '{x}'));
  show('delete with json ctype empty', await raw(port, 'DELETE', '/api/v1/crud/alice/nothing', { Authorization: ADMIN, 'Content-Type': 'application/json' }));
  show('dup slash', await raw(port, 'GET', '/api//v1/crud/alice', { Authorization: ADMIN }));
  show('dotdot', await raw(port, 'GET', '/api/v1/crud/x/../alice', { Authorization: ADMIN }));
  show('options', await raw(port, 'OPTIONS', '/api/v1/crud/alice', { Origin: 'http://localhost:3124' }));
  show('site origin', await raw(port, 'GET', '/api/v1/crud/alice', { Authorization: ADMIN, Origin: 'http://localhost:3124' }));
  show('long name param', await raw(port, 'GET', '/api/v1/crud/' + 'a'.repeat(600), { Authorization: ADMIN }));
  show('bad basic b64', await raw(port, 'GET', '/api/v1/?q=this', { Authorization: 'Basic !!!!' }));
  show('bearer', await raw(port, 'GET', '/api/v1/?q=this', { Authorization: 'Bearer abc' }));
  show('null update', await raw(port, 'PUT', '/api/v1/crud/alice', { Authorization: ADMIN, 'Content-Type': 'application/json' }, 'null'));
  show('empty update', await raw(port, 'PUT', '/api/v1/crud/alice', { Authorization: ADMIN, 'Content-Type': 'application/json' }, ''));
  show('nested streams not obj', await raw(port, 'POST', '/api/v1/crud/alice/ns', { Authorization: ADMIN, 'Content-Type': 'application/json' }, '{"streams":[1]}'));
  show('nested stream body non-object', await raw(port, 'POST', '/api/v1/crud/alice/ns2', { Authorization: ADMIN, 'Content-Type': 'application/json' }, '{"streams":{"a":5}}'));
  show('nested stream schema obj', await raw(port, 'POST', '/api/v1/crud/alice/ns3', { Authorization: ADMIN, 'Content-Type': 'application/json' }, '{"streams":{"a":{"schema":{}}}}'));
  show('user nested devices str', await raw(port, 'POST', '/api/v1/crud/zed', { Authorization: ADMIN, 'Content-Type': 'application/json' }, '{"email":"z@z","password":"p","devices":{"d":{"public":"yes"}}}'));
  show('uppercase name read', await raw(port, 'GET', '/api/v1/crud/ALICE', { Authorization: ADMIN }));
  show('icon data uri', await raw(port, 'PUT', '/api/v1/crud/alice', { Authorization: ADMIN, 'Content-Type': 'application/json' }, '{"icon":"data:image/png;base64,iVBORw0KGgo="}'));
  show('q=this POST', await raw(port, 'POST', '/api/v1/?q=this', { Authorization: ADMIN }));
  show('login POST', await raw(port, 'POST', '/api/v1/login', { Authorization: ADMIN }));
  await t.close();
});
