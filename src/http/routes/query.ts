import { runDataset, runMerge } from '../../query';
import { type Register, requireBody } from '../context';
import { sendDatapoints } from '../stream';
import { CSV_SAMPLE, type CsvColumns, addColumns, pull, scanColumns, sendCsv, sendProduceError } from '../csv';
import type { Datapoint } from '../../pipescript/datapoint';
import { schemas } from '../schemas';

/** Merge and dataset queries (rest-api §9); validation happens before the first byte is sent. */
export const registerQuery: Register = (app, { svc, api }) => {
  app.post(
    '/api/v1/query/merge',
    { schema: schemas.merge },
    api((req, reply, op) => sendDatapoints(reply, runMerge(requireBody(req), svc.data.reader(op), true))),
  );
  app.post(
    '/api/v1/query/dataset',
    { schema: schemas.dataset },
    api((req, reply, op) => sendDatapoints(reply, runDataset(requireBody(req), svc.data.reader(op), true))),
  );
  // The same dataset as CSV: `time`, `t`, then one `d.<column>` per dataset column.
  app.post(
    '/api/v1/query/dataset.csv',
    { schema: schemas.datasetCsv },
    api(async (req, reply, op) => {
      const body = requireBody(req);
      const it = runDataset(body, svc.data.reader(op), true);
      const cols: CsvColumns = { plain: false, fields: [] };
      const seen = new Set<string>();
      let head: Datapoint[];
      try {
        head = await pull(it, CSV_SAMPLE);
        for (const dp of head) addColumns(cols, seen, dp.d);
        // A posttransform may shape rows differently further on: scan them all for their fields.
        const post = (body as { posttransform?: unknown }).posttransform;
        if (typeof post === 'string' && post !== '' && head.length === CSV_SAMPLE) await scanColumns(cols, seen, runDataset(body, svc.data.reader(op), true));
      } catch (e) {
        return sendProduceError(reply, e);
      }
      return sendCsv(reply, cols, head, it, 'dataset.csv');
    }),
  );
};
