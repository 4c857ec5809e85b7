import { BadRequestError } from '../../errors';
import { type Register, checkNames, requireBody, sendJSON, sendText, updateBody } from '../context';
import { DatapointService } from '../../domain/datapoints/service';

type Q = Record<string, string | undefined>;
type P = Record<string, string>;

const UNRECOGNIZED = 'Unrecognized query command.';

/** Users, devices and streams: rest-api §5–§7. */
export const registerCrud: Register = (app, { svc, api }) => {
  const listUsers = api(async (req, reply, op) => {
    const q = (req.query as Q).q ?? '';
    if (q !== 'ls') throw new BadRequestError(UNRECOGNIZED);
    return sendJSON(reply, await svc.users.list(op));
  });
  app.get('/api/v1/crud', listUsers);

  app.get(
    '/api/v1/crud/:user',
    api(async (req, reply, op) => {
      const { user } = req.params as P;
      checkNames(user);
      const q = req.query as Q;
      switch (q.q ?? '') {
        case 'ls':
        case 'devices':
          return sendJSON(reply, await svc.devices.list(op, user));
        case 'streams':
          return sendJSON(
            reply,
            await svc.users.listStreams(op, user, { public: q.public === 'true', downlink: q.downlink === 'true', visible: q.visible === 'true' }),
          );
        case '':
          return sendJSON(reply, await svc.users.read(op, user));
        default:
          throw new BadRequestError(UNRECOGNIZED);
      }
    }),
  );
  app.post(
    '/api/v1/crud/:user',
    api(async (req, reply, op) => {
      const { user } = req.params as P;
      checkNames(user);
      return sendJSON(reply, await svc.users.create(op, user, requireBody(req)));
    }),
  );
  app.put(
    '/api/v1/crud/:user',
    api(async (req, reply, op) => {
      const { user } = req.params as P;
      checkNames(user);
      return sendJSON(reply, await svc.users.update(op, user, updateBody(req)));
    }),
  );
  app.delete(
    '/api/v1/crud/:user',
    api(async (req, reply, op) => {
      const { user } = req.params as P;
      checkNames(user);
      await svc.users.delete(op, user);
      return sendText(reply, 'ok');
    }),
  );

  app.get(
    '/api/v1/crud/:user/:device',
    api(async (req, reply, op) => {
      const { user, device } = req.params as P;
      checkNames(user, device);
      switch ((req.query as Q).q ?? '') {
        case 'ls':
        case 'streams':
          return sendJSON(reply, await svc.streams.listForDevice(op, user, device));
        case '':
          return sendJSON(reply, await svc.devices.read(op, user, device));
        default:
          throw new BadRequestError(UNRECOGNIZED);
      }
    }),
  );
  app.post(
    '/api/v1/crud/:user/:device',
    api(async (req, reply, op) => {
      const { user, device } = req.params as P;
      checkNames(user, device);
      return sendJSON(reply, await svc.devices.create(op, user, device, requireBody(req)));
    }),
  );
  app.put(
    '/api/v1/crud/:user/:device',
    api(async (req, reply, op) => {
      const { user, device } = req.params as P;
      checkNames(user, device);
      return sendJSON(reply, await svc.devices.update(op, user, device, updateBody(req)));
    }),
  );
  app.delete(
    '/api/v1/crud/:user/:device',
    api(async (req, reply, op) => {
      const { user, device } = req.params as P;
      checkNames(user, device);
      await svc.devices.delete(op, user, device);
      return sendText(reply, 'ok');
    }),
  );

  app.get(
    '/api/v1/crud/:user/:device/:stream',
    api(async (req, reply, op) => {
      const { user, device, stream } = req.params as P;
      checkNames(user, device, stream);
      if (((req.query as Q).q ?? '') !== '') throw new BadRequestError(UNRECOGNIZED);
      return sendJSON(reply, await svc.streams.read(op, user, device, stream));
    }),
  );
  app.post(
    '/api/v1/crud/:user/:device/:stream',
    api(async (req, reply, op) => {
      const { user, device, stream } = req.params as P;
      checkNames(user, device, stream);
      return sendJSON(reply, await svc.streams.create(op, user, device, stream, requireBody(req)));
    }),
  );
  app.put(
    '/api/v1/crud/:user/:device/:stream',
    api(async (req, reply, op) => {
      const { user, device, stream } = req.params as P;
      checkNames(user, device, stream);
      return sendJSON(reply, await svc.streams.update(op, user, device, stream, updateBody(req)));
    }),
  );
  app.delete(
    '/api/v1/crud/:user/:device/:stream',
    api(async (req, reply, op) => {
      const { user, device, stream } = req.params as P;
      checkNames(user, device, stream);
      await svc.streams.delete(op, user, device, stream, DatapointService.goBool((req.query as Q).downlink));
      return sendText(reply, 'ok');
    }),
  );
};
