import { CdbError, ForbiddenError, InternalError } from '../../errors';
import { DatapointService } from '../../domain/datapoints/service';
import { compileTransform } from '../../domain/datapoints/transform';
import { PipeScriptError, datapointToJSON } from '../../pipescript';
import { type Register, checkNames } from '../context';
import { schemas } from '../schemas';

type Q = Record<string, string | undefined>;
type P = Record<string, string>;

const GO_XML: Record<string, string> = { '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;', '\t': '&#x9;', '\n': '&#xA;', '\r': '&#xD;' };

/**
 * Go's encoding/xml escaping (the original's feed went through it): quotes as `&#34;`/`&#39;`,
 * tab and line breaks as character references, characters XML cannot hold as U+FFFD.
 */
// eslint-disable-next-line no-control-regex
const esc = (s: string) => s.replace(/["'&<>\t\n\r]|[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, (c) => GO_XML[c] ?? '\uFFFD');

const GO_JSON_HTML: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };

/** Go's json.Marshal escaping of `<>&` and U+2028/9; these can only occur inside JSON strings, so replacing them is safe. */
const goHtmlSafe = (json: string) => json.replace(/[<>&\u2028\u2029]/g, (c) => GO_JSON_HTML[c]);

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
    let opened;
    try {
      opened = await svc.data.openForRead(op, p.user, p.device, stream, DatapointService.goBool(q.downlink));
    } catch (e) {
      // The original's feed answered every missing or unreadable stream with this one message.
      if (e instanceof CdbError && (e.status === 403 || e.status === 404)) throw new ForbiddenError("Can't access this resource.");
      throw e;
    }
    const { ref, sub } = opened;
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
    // Element order as the original wrote it (recorded): title, id, link, updated, author.
    const self = `${site}/api/v1/feed/${path}.atom`;
    xml += `<id>${esc(self)}</id><link href="${esc(self)}" rel="self"></link><updated>${rfc3339(Date.now() / 1000)}</updated>`;
    xml += `<author><name>${esc(ref.user.name)}</name></author>`;
    points.forEach((dp, k) => {
      const i = i1 + k;
      const link = `${site}/api/v1/crud/${path}/data?i1=${i}&i2=${i + 1}`;
      const content = goHtmlSafe(datapointToJSON({ t: 0, d: dp.d }).replace(/^\{"d":/, '').replace(/\}$/, '') || 'null');
      xml += `<entry><title>Datapoint ${i + 1}</title><id>${esc(link)}</id><link href="${esc(link)}"></link><updated>${rfc3339(dp.t)}</updated>`;
      xml += `<author><name>${esc(dp.o || `${ref.user.name}/${ref.device.name}`)}</name></author>`;
      xml += `<content>${esc(content)}</content></entry>`;
    });
    xml += '</feed>';
    return reply.type('application/xml; charset=utf-8').send(xml);
  });
  app.get('/api/v1/feed/:user/:device/:stream', { schema: schemas.feed }, handler);
};
