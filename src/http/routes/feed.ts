import { InternalError } from '../../errors';
import { DatapointService } from '../../domain/datapoints/service';
import { compileTransform } from '../../domain/datapoints/transform';
import { PipeScriptError, datapointToJSON } from '../../pipescript';
import { type Register, checkNames } from '../context';

type Q = Record<string, string | undefined>;
type P = Record<string, string>;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function rfc3339(sec: number): string {
  const d = new Date(sec * 1000);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, '0');
  const local = new Date(d.getTime() + off * 60000).toISOString().slice(0, 19);
  return `${local}${sign}${pad(off / 60)}:${pad(off % 60)}`;
}

/** The Atom feed of the last 500 datapoints (rest-api §10.1). */
export const registerFeed: Register = (app, { svc, api, config }) => {
  const handler = api(async (req, reply, op) => {
    const p = req.params as P;
    const stream = p.stream.endsWith('.atom') ? p.stream.slice(0, -5) : p.stream;
    checkNames(p.user, p.device, stream);
    const q = req.query as Q;
    const { ref, sub } = await svc.data.openForRead(op, p.user, p.device, stream, DatapointService.goBool(q.downlink));
    const n = await svc.core.data.length(ref.stream.id, sub);
    const i1 = Math.max(0, n - 500);
    let transform;
    let points;
    try {
      transform = compileTransform(q.transform);
      const plan = await svc.data.planIndex(ref, sub, i1, 0, transform);
      points = [];
      const it = svc.data.datapoints(plan);
      for (let r = it.next(); !r.done; r = it.next()) points.push(r.value);
    } catch (e) {
      if (e instanceof PipeScriptError || e instanceof Error) throw new InternalError(e.message);
      throw e;
    }
    const site = config.siteurl || `http://${config.hostname || 'localhost'}:${config.port}`;
    const path = ref.path + (sub ? '/downlink' : '');
    let xml = `<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>${esc(path)}</title>`;
    xml += `<id>${esc(site)}/api/v1/feed/${esc(path)}.atom</id><updated>${rfc3339(Date.now() / 1000)}</updated>`;
    xml += `<link href="${esc(site)}/api/v1/feed/${esc(path)}.atom" rel="self"></link><author><name>${esc(ref.user.name)}</name></author>`;
    points.forEach((dp, k) => {
      const i = i1 + k;
      const link = `${site}/api/v1/crud/${path}/data?i1=${i}&i2=${i + 1}`;
      const content = datapointToJSON({ t: 0, d: dp.d }).replace(/^\{"d":/, '').replace(/\}$/, '') || 'null';
      xml += `<entry><title>Datapoint ${i + 1}</title><updated>${rfc3339(dp.t)}</updated><id>${esc(link)}</id>`;
      xml += `<link href="${esc(link)}" rel="alternate"></link><author><name>${esc(dp.o || `${ref.user.name}/${ref.device.name}`)}</name></author>`;
      xml += `<content>${esc(content)}</content></entry>`;
    });
    xml += '</feed>';
    return reply.type('application/xml; charset=utf-8').send(xml);
  });
  app.get('/api/v1/feed/:user/:device/:stream', handler);
};
