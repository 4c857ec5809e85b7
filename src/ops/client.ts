import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DATA_FILE, DEVICE_FILE, DOWNLINK_FILE, INFO_FILE, STREAM_FILE, USER_FILE } from './files';
import { type ProgressSink, silentProgress } from './progress';

/**
 * The connectordb-python client's export/import (format version 1, export-import.md §9) over the
 * REST API, call for call: `client-export` is `User.export(dir)` for each user, `client-import` is
 * `ConnectorDB.import_users(dir)`. Works against this server and against an original 0.3 server.
 */

/** Datapoints per insert request, the Python client's DATAPOINT_INSERT_LIMIT. */
export const CLIENT_INSERT_LIMIT = 5000;

type Obj = Record<string, unknown>;

export class RestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A minimal REST connection authenticated by user/password or by API key (Basic, empty user). */
export class Rest {
  private readonly auth: string;
  constructor(
    readonly url: string,
    user: string,
    password: string,
  ) {
    this.auth = 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
  }

  static apikey(url: string, key: string): Rest {
    return new Rest(url, '', key);
  }

  private async call(method: string, p: string, body?: unknown): Promise<Response> {
    const r = await fetch(`${this.url.replace(/\/+$/, '')}/api/v1/${p}`, {
      method,
      headers: { authorization: this.auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status !== 200) {
      const text = await r.text();
      let msg = text;
      try {
        msg = (JSON.parse(text) as { msg?: string }).msg ?? text;
      } catch {
        // not an error body
      }
      throw new RestError(r.status, `${method} /api/v1/${p}: ${r.status} ${msg}`);
    }
    return r;
  }

  async text(p: string): Promise<string> {
    return (await this.call('GET', p)).text();
  }
  async get<T = unknown>(p: string): Promise<T> {
    return (await (await this.call('GET', p)).json()) as T;
  }
  async exists(p: string): Promise<boolean> {
    try {
      await this.call('GET', p);
      return true;
    } catch (e) {
      if (e instanceof RestError && e.status < 500) return false;
      throw e;
    }
  }
  async post<T = unknown>(p: string, body: unknown): Promise<T> {
    return (await (await this.call('POST', p, body)).json()) as T;
  }
  async put<T = unknown>(p: string, body: unknown): Promise<T> {
    return (await (await this.call('PUT', p, body)).json()) as T;
  }
  /** POST .../data in chunks, like the client's insert_array (no restamp). */
  async insert(p: string, points: unknown[]): Promise<void> {
    for (let i = 0; i < points.length; i += CLIENT_INSERT_LIMIT) {
      const r = await this.call('POST', `${p}/data`, points.slice(i, i + CLIENT_INSERT_LIMIT));
      await r.text();
    }
  }
}

const enc = encodeURIComponent;

/** Python's sort of datapoints by `t` (stable; a missing `t` is 0). */
const byT = (a: Obj, b: Obj) => ((a.t as number) ?? 0) - ((b.t as number) ?? 0);

function readJSON(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * `User.export(dir)` for each named user (default: the logged-in one). The directory may already
 * hold a version-1 export (several users go into one directory); a user's own folder must not.
 */
export async function clientExport(rest: Rest, outDir: string, users: string[] = [], progress: ProgressSink = silentProgress): Promise<{ users: number; streams: number; datapoints: number }> {
  const stats = { users: 0, streams: 0, datapoints: 0 };
  if (users.length === 0) users = [(await rest.text('?q=this')).split('/')[0]];
  const info = path.join(outDir, INFO_FILE);
  if (existsSync(outDir)) {
    const v = existsSync(info) ? (readJSON(info) as Obj).Version : undefined;
    if (v !== 1) throw new Error(`${outDir} exists and is not a version 1 export`);
  } else {
    mkdirSync(outDir, { recursive: true });
    writeFileSync(info, JSON.stringify({ Version: 1, ConnectorDB: await rest.text('meta/version') }));
  }
  for (const u of users) {
    const udir = path.join(outDir, u);
    if (existsSync(udir)) throw new Error(`${udir} already exists`);
    mkdirSync(udir);
    writeFileSync(path.join(udir, USER_FILE), JSON.stringify(await rest.get(`crud/${enc(u)}`)));
    for (const dev of await rest.get<Obj[]>(`crud/${enc(u)}?q=ls`)) {
      const dn = String(dev.name);
      const ddir = path.join(udir, dn);
      mkdirSync(ddir);
      writeFileSync(path.join(ddir, DEVICE_FILE), JSON.stringify(dev));
      for (const s of await rest.get<Obj[]>(`crud/${enc(u)}/${enc(dn)}?q=ls`)) {
        const sn = String(s.name);
        const sdir = path.join(ddir, sn);
        const sp = `crud/${enc(u)}/${enc(dn)}/${enc(sn)}`;
        mkdirSync(sdir);
        writeFileSync(path.join(sdir, STREAM_FILE), JSON.stringify(s));
        const data = (await rest.get<Obj[]>(`${sp}/data?i1=0&i2=0`)).sort(byT);
        writeFileSync(path.join(sdir, DATA_FILE), JSON.stringify(data));
        stats.datapoints += data.length;
        if (s.downlink === true) {
          const dl = (await rest.get<Obj[]>(`${sp}/data?i1=0&i2=0&downlink=True`)).sort(byT);
          writeFileSync(path.join(sdir, DOWNLINK_FILE), JSON.stringify(dl));
          stats.datapoints += dl.length;
        }
        stats.streams++;
        progress.update(`${u}/${dn}/${sn}`, stats.datapoints, 0);
      }
    }
    stats.users++;
  }
  progress.end(`Exported ${stats.users} users, ${stats.streams} streams, ${stats.datapoints} datapoints (version 1)`);
  return stats;
}

const subdirs = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();

const without = (o: Obj, k: string): Obj => {
  const c = { ...o };
  delete c[k];
  return c;
};

/**
 * `ConnectorDB.import_users(dir)` (needs an admin): users get their directory name as password;
 * devices keep their API keys; main data is inserted as the device itself, downlink data as the
 * importer. Not transactional (it is a sequence of REST calls, as in the Python client).
 */
export async function clientImport(rest: Rest, inDir: string, progress: ProgressSink = silentProgress): Promise<{ users: number; streams: number; datapoints: number }> {
  const stats = { users: 0, streams: 0, datapoints: 0 };
  const info = readJSON(path.join(inDir, INFO_FILE)) as Obj;
  if (info.Version !== 1) throw new Error('Not able to read this import version');
  const me = await rest.text('?q=this');
  for (const ud of subdirs(inDir)) {
    const udir = path.join(inDir, ud);
    const uj = readJSON(path.join(udir, USER_FILE)) as Obj;
    const name = typeof uj.name === 'string' ? uj.name : ud;
    if (await rest.exists(`crud/${enc(name)}`)) throw new Error(`User ${name} already exists`);
    const body: Obj = { password: ud };
    for (const k of ['email', 'role', 'public', 'nickname', 'description', 'icon']) if (k in uj) body[k] = uj[k];
    await rest.post(`crud/${enc(name)}`, body);
    for (const dd of subdirs(udir)) {
      const ddir = path.join(udir, dd);
      const dj = readJSON(path.join(ddir, DEVICE_FILE)) as Obj;
      const dn = typeof dj.name === 'string' ? dj.name : dd;
      if (dn === 'meta') continue;
      const dp = `crud/${enc(name)}/${enc(dn)}`;
      let meta: Obj;
      if (dn === 'user') meta = await rest.put<Obj>(dp, without(dj, 'name'));
      else {
        if (await rest.exists(dp)) throw new Error(`Device ${name}/${dn} already exists`);
        meta = await rest.post<Obj>(dp, without(dj, 'name'));
      }
      const apikey = typeof meta.apikey === 'string' ? meta.apikey : '';
      const devRest = Rest.apikey(rest.url, apikey);
      const devName = await devRest.text('?q=this');
      for (const sd of subdirs(ddir)) {
        const sdir = path.join(ddir, sd);
        const sj = readJSON(path.join(sdir, STREAM_FILE)) as Obj;
        const sn = typeof sj.name === 'string' ? sj.name : sd;
        const sp = `${dp}/${enc(sn)}`;
        if (await rest.exists(sp)) throw new Error(`Stream ${name}/${dn}/${sn} already exists`);
        await rest.post(sp, { schema: '{}' });
        const dfile = path.join(sdir, DATA_FILE);
        const data = existsSync(dfile) ? (readJSON(dfile) as unknown[]) : [];
        if (data.length > 0) await devRest.insert(sp, data);
        stats.datapoints += data.length;
        if (sj.downlink === true && me !== devName) {
          await rest.put(sp, { downlink: true });
          const lfile = path.join(sdir, DOWNLINK_FILE);
          const dl = existsSync(lfile) ? (readJSON(lfile) as unknown[]) : [];
          if (dl.length > 0) await rest.insert(sp, dl);
          stats.datapoints += dl.length;
        }
        await rest.put(sp, without(sj, 'name'));
        stats.streams++;
        progress.update(`${name}/${dn}/${sn}`, stats.datapoints, 0);
      }
    }
    stats.users++;
  }
  progress.end(`Imported ${stats.users} users, ${stats.streams} streams, ${stats.datapoints} datapoints (version 1)`);
  return stats;
}
