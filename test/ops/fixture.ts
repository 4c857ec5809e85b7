import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * An export of the original ConnectorDB 0.3 built by hand from export-import.md §1–§6: tab-indented
 * metadata in struct key order, compact data files, bcrypt and SHA512 hashes with the salt
 * appended to the password (data-model §3.4), a meta device with its log (to be skipped), a
 * downlink stream whose datapoints carry `o`, and a stream long enough to need several chunks.
 */
export const PASSWORDS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol pw with spaces' };
export const KEYS = {
  aliceUser: '95f18572-01f4-460c-739f-80a46bbf0bb7',
  alicePhone: 'de96e656-cdfc-49a9-6cbb-74ddd6097fe9',
  bobUser: '1c7ab2a2-3e2b-4b83-5c4f-0d1e2f3a4b5c',
  bobLaptop: '2d8bc3b3-4f3c-4c94-6d5a-1e2f3a4b5c6d',
  carolUser: '3e9cd4c4-5a4d-4da5-7e6b-2f3a4b5c6d7e',
};
export const CPU_POINTS = 23456;

export type Tree = Record<string, unknown>;

const tab = (v: unknown) => JSON.stringify(v, null, '\t');

const bcryptHash = (pw: string, salt: string) => bcrypt.hashSync(pw + salt, 10);
const sha512Hash = (pw: string, salt: string) => createHash('sha512').update(pw + salt).digest('hex');

function user(name: string, email: string, role: string, pub: boolean, scheme: 'bcrypt' | 'SHA512', pw: string, salt: string) {
  return {
    name,
    nickname: name.toUpperCase(),
    email,
    description: `${name}'s account`,
    icon: '',
    role,
    public: pub,
    password: scheme === 'bcrypt' ? bcryptHash(pw, salt) : sha512Hash(pw, salt),
    password_salt: salt,
    password_scheme: scheme,
  };
}

function device(name: string, apikey: string, over: Partial<Record<string, unknown>> = {}) {
  return { name, nickname: '', description: '', icon: '', apikey, enabled: true, public: false, role: '', visible: true, user_editable: true, ...over };
}

function stream(name: string, schema: string, over: Partial<Record<string, unknown>> = {}) {
  return { name, nickname: '', description: '', icon: '', schema, datatype: '', ephemeral: false, downlink: false, ...over };
}

const meta = (salt: string) => ({
  dir: 'meta',
  json: device('meta', '', { description: 'The meta device holds automatically generated streams', icon: 'material:bug_report', visible: false, user_editable: false }),
  streams: [
    {
      json: stream('log', '{"type":"object","properties":{"cmd":{"type":"string"},"arg":{"type":"string"}},"required":["cmd","arg"]}'),
      data: `[{"t":1500000000.5,"d":{"cmd":"CreateUser","arg":"${salt}"}}]`,
    },
  ],
});

export interface FixtureStream {
  json: Record<string, unknown>;
  data: string;
  downlink?: string;
}

function cpuData(): string {
  const parts: string[] = [];
  for (let i = 0; i < CPU_POINTS; i++) parts.push(JSON.stringify({ t: 1600000000 + i * 0.25, d: (i % 100) / 10 }));
  return `[${parts.join(',')}]`;
}

/** The layout as data: users → devices → streams; `writeExport` puts it on disk. */
export function originalExport(): { version: number; users: { json: Record<string, unknown>; devices: { dir: string; json: Record<string, unknown>; streams: FixtureStream[] }[] }[] } {
  return {
    version: 2,
    users: [
      {
        json: user('alice', 'alice@localhost', 'user', false, 'bcrypt', PASSWORDS.alice, 'ef8093d4-47de-43f3-4445-44969858c6d7'),
        devices: [
          {
            dir: 'user',
            json: device('user', KEYS.aliceUser, { role: 'user', description: 'Holds manually inserted data for the user', icon: 'material:person' }),
            streams: [
              {
                json: stream('diary', '{"type":"string"}', { datatype: 'log.diary', nickname: 'Diary' }),
                data: '[{"t":1795472000,"d":"first entry"},{"t":1795472001.5,"d":"second \\"quoted\\" entry ✓"},{"t":1795472001.5,"d":"same time"}]',
              },
            ],
          },
          meta('ef8093d4'),
          {
            dir: 'phone',
            json: device('phone', KEYS.alicePhone, { nickname: 'P1', enabled: false, visible: false, user_editable: false }),
            streams: [
              {
                json: stream('light', '{"type":"boolean"}', { downlink: true }),
                data: '[{"t":1795472046.81,"d":true},{"t":1795472050.125,"d":false}]',
                downlink: '[{"t":1795472046.495899,"d":true,"o":"alice/user"},{"t":1795472046.495899,"d":false,"o":"bob/laptop"},{"t":1795472047,"d":true,"o":"alice/user"}]',
              },
              {
                json: stream('temperature', '{"type":"number","minimum":0}', { icon: 'material:whatshot' }),
                // Old data that the later schema (minimum 0) refuses must still import.
                data: '[{"t":1500000000,"d":-3.5},{"t":1500000001,"d":20},{"t":1500000002},{"t":1500000003,"d":1e+300}]',
              },
              { json: stream('empty', '{}'), data: '[]' },
            ],
          },
        ],
      },
      {
        json: user('bob', 'bob@example.org', 'admin', true, 'SHA512', PASSWORDS.bob, '0b5f1c0e-1111-4222-5333-644455566677'),
        devices: [
          { dir: 'user', json: device('user', KEYS.bobUser, { role: 'user' }), streams: [] },
          meta('0b5f1c0e'),
          {
            dir: 'laptop',
            json: device('laptop', KEYS.bobLaptop, { public: true, role: 'none', description: 'work laptop' }),
            streams: [
              { json: stream('cpu', '{"type":"number"}'), data: cpuData() },
              { json: stream('live', '{"type":"number"}', { ephemeral: true }), data: '[]' },
            ],
          },
        ],
      },
      {
        json: user('carol', 'Carol <carol@x>', 'user', true, 'bcrypt', PASSWORDS.carol, 'c4401c44-aaaa-4bbb-4ccc-dddddddddddd'),
        devices: [{ dir: 'user', json: device('user', KEYS.carolUser, { role: 'user' }), streams: [] }, meta('c4401c44')],
      },
    ],
  };
}

export function writeExport(dir: string, tree = originalExport()): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const u of tree.users) {
    const udir = path.join(dir, u.json.name as string);
    mkdirSync(udir);
    writeFileSync(path.join(udir, 'user.json'), tab(u.json));
    for (const d of u.devices) {
      const ddir = path.join(udir, d.dir);
      mkdirSync(ddir);
      writeFileSync(path.join(ddir, 'device.json'), tab(d.json));
      for (const s of d.streams) {
        const sdir = path.join(ddir, s.json.name as string);
        mkdirSync(sdir);
        writeFileSync(path.join(sdir, 'stream.json'), tab(s.json));
        writeFileSync(path.join(sdir, 'data.json'), s.data);
        if (s.downlink !== undefined) writeFileSync(path.join(sdir, 'downlink.json'), s.downlink);
      }
    }
  }
  // Written last, as the original does.
  writeFileSync(path.join(dir, 'connectordb.json'), tab({ Version: tree.version, ConnectorDB: '0.3.0-git.1321' }));
  return dir;
}
