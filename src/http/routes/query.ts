import { runDataset, runMerge } from '../../query';
import { type Register, requireBody } from '../context';
import { sendDatapoints } from '../stream';

/** Merge and dataset queries (rest-api §9); validation happens before the first byte is sent. */
export const registerQuery: Register = (app, { svc, api }) => {
  app.post(
    '/api/v1/query/merge',
    api((req, reply, op) => sendDatapoints(reply, runMerge(requireBody(req), svc.data.reader(op)))),
  );
  app.post(
    '/api/v1/query/dataset',
    api((req, reply, op) => sendDatapoints(reply, runDataset(requireBody(req), svc.data.reader(op)))),
  );
};
