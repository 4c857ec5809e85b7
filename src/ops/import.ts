import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Services } from '../domain';
import { DOWNLINK, MAIN, type Sub } from '../storage/types';
import { normalizeSchema } from '../domain/streams/schema';
import type { DeviceRow, StreamRef, StreamRow, UserRow } from '../domain/types';
import { type PasswordHash, hashPassword } from '../domain/users/passwords';
import { validEmail, validName } from '../domain/validation';
import { newApiKey } from '../domain/devices/service';
import type { Datapoint } from '../pipescript/datapoint';
import { DATA_FILE, DEVICE_FILE, DOWNLINK_FILE, INFO_FILE, STREAM_FILE, USER_FILE } from './files';
import { readJsonArray } from './jsonarray';
import { type ProgressSink, silentProgress } from './progress';

export interface ImportStats {
  version: number;
  users: number;
  devices: number;
  streams: number;
  datapoints: number;
  warnings: string[];
}

/** Datapoints per insert: the original's importer chunk (export-import.md §7.3). */
export const IMPORT_CHUNK = 10000;

const KNOWN_SCHEMES = new Set(['argon2id', 'argon2', 'bcrypt', 'SHA512', '']);

type Obj = Record<string, unknown>;

function readObject(file: string): Obj {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${file} must hold a JSON object`);
  return v as Obj;
}

/** Sub-directories in a stable order; files and hidden entries are ignored (§1). */
function subdirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

const str = (o: Obj, k: string, d = ''): string => (typeof o[k] === 'string' ? (o[k] as string) : d);
const bool = (o: Obj, k: string, d = false): boolean => (typeof o[k] === 'boolean' ? (o[k] as boolean) : d);

/** Reads `connectordb.json`; the server accepts versions 1 and 2 (§2). */
export function exportVersion(dir: string): number {
  const f = path.join(dir, INFO_FILE);
  if (!existsSync(f)) throw new Error(`${dir} is not a ConnectorDB export (no ${INFO_FILE}; an export without it is incomplete)`);
  const info = readObject(f);
  const v = info.Version;
  if (v !== 1 && v !== 2) throw new Error(`Can't open the export version ${JSON.stringify(v)} (this server imports versions 1 and 2)`);
  return v;
}

/** Total size of the datapoint files, for the progress display. */
function dataBytes(dir: string): number {
  let n = 0;
  for (const u of subdirs(dir)) {
    for (const d of subdirs(path.join(dir, u))) {
      if (d === 'meta') continue;
      for (const s of subdirs(path.join(dir, u, d))) {
        for (const f of [DATA_FILE, DOWNLINK_FILE]) {
          const p = path.join(dir, u, d, s, f);
          if (existsSync(p)) n += statSync(p).size;
        }
      }
    }
  }
  return n;
}

/**
 * `connectordb import DIR INDIR` (export-import.md §7): version 2 keeps password hashes (bcrypt
 * and SHA512 ones verify at login and are upgraded to argon2id then), version 1 sets each password
 * to the user's name. Devices keep their API keys, datapoints their timestamps and `o`; `meta` is
 * skipped. Unlike the original, the whole import is one transaction: if anything fails, nothing is
 * imported and the error names the object and file.
 */
export async function importDatabase(svc: Services, inDir: string, progress: ProgressSink = silentProgress): Promise<ImportStats> {
  const version = exportVersion(inDir);
  const stats: ImportStats = { version, users: 0, devices: 0, streams: 0, datapoints: 0, warnings: [] };
  const warn = (m: string) => {
    stats.warnings.push(m);
    progress.info(`warning: ${m}`);
  };

  // Hashing happens before the transaction, which then runs in one go.
  const users: { dir: string; json: Obj; name: string; hash: PasswordHash }[] = [];
  for (const ud of subdirs(inDir)) {
    const file = path.join(inDir, ud, USER_FILE);
    if (!existsSync(file)) throw new Error(`Import failed at user ${ud}: ${file} is missing\nNothing was imported (the database is unchanged).`);
    const json = readObject(file);
    const name = str(json, 'name', ud);
    let hash: PasswordHash;
    if (version === 2 && typeof json.password === 'string' && json.password !== '') {
      hash = { password: json.password, password_salt: str(json, 'password_salt'), password_scheme: str(json, 'password_scheme', 'bcrypt') };
      if (!KNOWN_SCHEMES.has(hash.password_scheme)) {
        warn(`user ${name}: unknown password scheme '${hash.password_scheme}' imported as is; that user cannot log in until an admin sets a password`);
      }
    } else {
      hash = await hashPassword(name);
      warn(`user ${name}: the export has no password hash, so the password is the user name; change it (connectordb user passwd)`);
    }
    users.push({ dir: path.join(inDir, ud), json, name, hash });
  }
  const totalBytes = dataBytes(inDir);
  progress.info(`Importing ${users.length} users (${(totalBytes / 1048576).toFixed(1)} MiB of datapoints) from ${inDir}`);

  const core = svc.core;
  const perms = core.permissions;
  let where = '';
  let doneBytes = 0;

  const importData = async (ref: StreamRef, sub: Sub, file: string) => {
    let chunk: Datapoint[] = [];
    let index = 0;
    const base = doneBytes;
    const flush = async () => {
      // One store() per run of equal senders: `o` is kept verbatim (downlinks mix senders).
      let i = 0;
      while (i < chunk.length) {
        const o = chunk[i].o ?? '';
        let j = i + 1;
        while (j < chunk.length && (chunk[j].o ?? '') === o) j++;
        await svc.data.store(ref, sub, chunk.slice(i, j), o, false);
        i = j;
      }
      stats.datapoints += chunk.length;
      chunk = [];
    };
    for (const v of readJsonArray(file, (n) => {
      doneBytes = base + n;
      progress.update(where, doneBytes, totalBytes);
    })) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${file}: datapoint ${index} is not an object`);
      const e = v as Obj;
      if (e.t !== undefined && e.t !== null && (typeof e.t !== 'number' || !Number.isFinite(e.t))) throw new Error(`${file}: datapoint ${index} has a non-numeric timestamp`);
      if (e.o !== undefined && e.o !== null && typeof e.o !== 'string') throw new Error(`${file}: datapoint ${index} has a non-string "o"`);
      const dp: Datapoint = { t: (e.t as number | null | undefined) ?? 0, d: e.d === undefined ? null : e.d };
      if (typeof e.o === 'string' && e.o !== '') dp.o = e.o;
      chunk.push(dp);
      if (chunk.length >= IMPORT_CHUNK) await flush();
      index++;
    }
    if (chunk.length > 0) await flush();
  };

  const importStream = async (u: UserRow, d: DeviceRow, sdir: string) => {
    const json = readObject(path.join(sdir, STREAM_FILE));
    const name = str(json, 'name', path.basename(sdir));
    where = `${u.name}/${d.name}/${name}`;
    if (!validName(name)) throw new Error(`invalid stream name '${name}'`);
    if (await core.streams.get(d.id, name)) throw new Error('Stream with this name already exists');
    const role = perms.userRole(u.role);
    if (role.max_streams > 0 && (await core.streams.countForDevice(d.id)) >= role.max_streams) throw new Error('Exceeded maximum stream number for device');
    const schema = normalizeSchema(str(json, 'schema', '{}') || '{}');
    const downlink = bool(json, 'downlink');
    // Created with schema {} and not ephemeral, so old data that a later schema refuses still goes
    // in; both are set afterwards (§7.3).
    const s: StreamRow = await core.meta.createStream(
      {
      device_id: d.id,
      name,
      nickname: str(json, 'nickname'),
      description: str(json, 'description'),
      icon: str(json, 'icon'),
      schema: '{}',
      datatype: str(json, 'datatype'),
      ephemeral: false,
      downlink,
      },
      [],
    );
    const id = s.id;
    const ref: StreamRef = { user: u, device: d, stream: s, path: where };
    const data = path.join(sdir, DATA_FILE);
    if (existsSync(data)) await importData(ref, MAIN, data);
    const dl = path.join(sdir, DOWNLINK_FILE);
    if (downlink && existsSync(dl)) await importData(ref, DOWNLINK, dl);
    const ephemeral = bool(json, 'ephemeral');
    if (schema !== '{}' || ephemeral) await core.meta.updateStream(id, { schema, ephemeral }, false, []);
    stats.streams++;
  };

  const deviceFields = (json: Obj, zero: Omit<DeviceRow, 'id' | 'user_id' | 'name'>): Omit<DeviceRow, 'id' | 'user_id' | 'name'> => ({
    nickname: str(json, 'nickname', zero.nickname),
    description: str(json, 'description', zero.description),
    icon: str(json, 'icon', zero.icon),
    apikey: str(json, 'apikey', zero.apikey),
    enabled: bool(json, 'enabled', zero.enabled),
    public: bool(json, 'public', zero.public),
    role: str(json, 'role', zero.role),
    visible: bool(json, 'visible', zero.visible),
    user_editable: bool(json, 'user_editable', zero.user_editable),
  });

  const checkKey = async (key: string, selfId: number) => {
    const other = await core.devices.getByApikey(key);
    if (other && other.id !== selfId) throw new Error('Device with this API key already exists (API keys are kept by the import)');
  };

  const importDevice = async (u: UserRow, ddir: string) => {
    const json = readObject(path.join(ddir, DEVICE_FILE));
    const name = str(json, 'name', path.basename(ddir));
    where = `${u.name}/${name}`;
    if (name === 'meta') return; // re-created empty with the user (§7.2)
    let d: DeviceRow;
    if (name === 'user') {
      const cur = (await core.devices.get(u.id, 'user'))!;
      const f = deviceFields(json, cur);
      if (f.apikey === '') f.apikey = cur.apikey;
      await checkKey(f.apikey, cur.id);
      await core.meta.updateDevice(cur.id, f, []);
      d = (await core.devices.getById(cur.id))!;
    } else {
      if (!validName(name)) throw new Error(`invalid device name '${name}'`);
      if (await core.devices.get(u.id, name)) throw new Error('Device with this name already exists');
      const role = perms.userRole(u.role);
      if (role.max_devices > 0 && (await core.devices.countForUser(u.id)) >= role.max_devices) throw new Error("Can't create device: Device number limit exceeded.");
      const f = deviceFields(json, {
        nickname: '',
        description: '',
        icon: '',
        apikey: '',
        enabled: false,
        public: false,
        role: '',
        visible: false,
        user_editable: false,
      });
      if (f.apikey === '') f.apikey = newApiKey();
      await checkKey(f.apikey, -1);
      d = await core.meta.createDevice(u.id, { device: { name, ...f }, streams: [] }, []);
    }
    stats.devices++;
    for (const sd of subdirs(ddir)) await importStream(u, d, path.join(ddir, sd));
  };

  const importUser = async (entry: (typeof users)[number]) => {
    const { json, name, hash } = entry;
    where = name;
    const email = str(json, 'email');
    const role = str(json, 'role', 'user') || 'user';
    if (!validName(name)) throw new Error(`invalid user name '${name}'`);
    // The name existed in the source database: disallow_names is not applied (the server's own
    // `start` creates an `admin`, which the default list forbids for API creation).
    if (!perms.hasUserRole(role)) throw new Error(`The given role '${role}' does not exist (add it to the permissions file first)`);
    if (!validEmail(email)) throw new Error(`Invalid Email Address '${email}'`);
    if (perms.file.max_users > 0 && (await core.users.count()) >= perms.file.max_users) throw new Error('Maximum user limit was reached');
    await svc.users.checkUnique(name, email);
    const u = await svc.users.insertUser(
      {
        name,
        email,
        password: '',
        role,
        public: bool(json, 'public'),
        nickname: str(json, 'nickname'),
        description: str(json, 'description'),
        icon: str(json, 'icon'),
      },
      hash,
    );
    stats.users++;
    const devs = subdirs(entry.dir);
    // `user` first, as the original: it exists already and is overwritten rather than created.
    devs.sort((a, b) => (a === 'user' ? -1 : b === 'user' ? 1 : 0));
    for (const dd of devs) await importDevice(u, path.join(entry.dir, dd));
  };

  try {
    await core.storage.exclusive('write', async () => {
      for (const u of users) await importUser(u);
    });
  } catch (e) {
    progress.end();
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`Import failed at ${where || inDir}: ${msg}\nNothing was imported (the database is unchanged).`);
  }
  progress.end(`Imported ${stats.users} users, ${stats.devices} devices, ${stats.streams} streams, ${stats.datapoints} datapoints (export version ${version})`);
  return stats;
}
