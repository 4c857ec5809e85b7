import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Services } from '../domain';
import { DOWNLINK, MAIN, type Sub } from '../storage/types';
import { VERSION } from '../version';
import { DATA_FILE, DEVICE_FILE, DEVICE_KEYS, DOWNLINK_FILE, INFO_FILE, STREAM_FILE, STREAM_KEYS, USER_FILE, USER_KEYS, ordered } from './files';
import { type ProgressSink, silentProgress } from './progress';

export interface ExportStats {
  users: number;
  devices: number;
  streams: number;
  datapoints: number;
}

const READ_CHUNK = 5000;

const writeJSON = (file: string, v: unknown) => writeFileSync(file, JSON.stringify(v, null, '\t'), { mode: 0o600 });

/**
 * `connectordb export DIR OUTDIR`: every user, device (including `user` and `meta`) and stream
 * with its data, in the original's version-2 layout (export-import.md §8). Runs in one read
 * transaction, so the export is a consistent snapshot even while the server keeps writing.
 * `connectordb.json` is written last; on failure the half-written directory is removed.
 */
export async function exportDatabase(svc: Services, outDir: string, progress: ProgressSink = silentProgress): Promise<ExportStats> {
  if (existsSync(outDir)) throw new Error(`The given export location already exists: ${outDir}`);
  const core = svc.core;
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const stats: ExportStats = { users: 0, devices: 0, streams: 0, datapoints: 0 };
  try {
    await core.storage.exclusive('read', async () => {
      const users = await core.users.list();
      let total = 0;
      for (const u of users) {
        for (const d of await core.devices.listForUser(u.id)) {
          for (const s of await core.streams.listForDevice(d.id)) {
            total += (await core.data.length(s.id, MAIN)) + (s.downlink ? await core.data.length(s.id, DOWNLINK) : 0);
          }
        }
      }
      progress.info(`Exporting ${users.length} users (${total.toLocaleString('en-US')} datapoints) to ${outDir}`);
      for (const u of users) {
        const udir = path.join(outDir, u.name);
        mkdirSync(udir, { mode: 0o700 });
        writeJSON(path.join(udir, USER_FILE), ordered(u, USER_KEYS));
        stats.users++;
        for (const d of await core.devices.listForUser(u.id)) {
          const ddir = path.join(udir, d.name);
          mkdirSync(ddir, { mode: 0o700 });
          writeJSON(path.join(ddir, DEVICE_FILE), ordered(d, DEVICE_KEYS));
          stats.devices++;
          for (const s of await core.streams.listForDevice(d.id)) {
            const sdir = path.join(ddir, s.name);
            mkdirSync(sdir, { mode: 0o700 });
            writeJSON(path.join(sdir, STREAM_FILE), ordered(s, STREAM_KEYS));
            stats.streams++;
            const where = `${u.name}/${d.name}/${s.name}`;
            const dump = async (sub: Sub, file: string) => {
              const n = await core.data.length(s.id, sub);
              const fd = openSync(path.join(sdir, file), 'w', 0o600);
              try {
                writeSync(fd, '[');
                let first = true;
                for await (const rows of core.data.readBatches(s.id, sub, 0, n, READ_CHUNK)) {
                  writeSync(fd, (first ? '' : ',') + rows.join(','));
                  first = false;
                  stats.datapoints += rows.length;
                  progress.update(where, stats.datapoints, total);
                }
                writeSync(fd, ']');
              } finally {
                closeSync(fd);
              }
            };
            await dump(MAIN, DATA_FILE);
            if (s.downlink) await dump(DOWNLINK, DOWNLINK_FILE);
            progress.update(where, stats.datapoints, total);
          }
        }
      }
    });
    writeJSON(path.join(outDir, INFO_FILE), { Version: 2, ConnectorDB: VERSION });
  } catch (e) {
    rmSync(outDir, { recursive: true, force: true });
    throw e;
  }
  progress.end(`Exported ${stats.users} users, ${stats.devices} devices, ${stats.streams} streams, ${stats.datapoints} datapoints`);
  return stats;
}
