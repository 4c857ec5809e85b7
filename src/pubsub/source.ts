import { parseStored } from '../domain/datapoints/service';
import type { Datapoint } from '../pipescript/datapoint';
import { DOWNLINK, MAIN, type Storage, type Sub } from '../storage/types';
import type { BusSource } from './ordered';

/** `user/device/stream[/downlink]` → names and substream; undefined for anything else. */
export function splitBusPath(path: string): { user: string; device: string; stream: string; sub: Sub } | undefined {
  const p = path.split('/');
  if (p.length === 3) return { user: p[0], device: p[1], stream: p[2], sub: MAIN };
  if (p.length === 4 && p[3] === 'downlink') return { user: p[0], device: p[1], stream: p[2], sub: DOWNLINK };
  return undefined;
}

/** The reorder step's and the NOTIFY bus's reads, on the shared store. */
export function storageSource(storage: Storage): BusSource {
  return {
    async head(path) {
      const p = splitBusPath(path);
      if (!p) return undefined;
      const r = await storage.resolveStream(p.user, p.device, p.stream);
      if (!r.stream) return undefined;
      return { sid: r.stream.id, length: await storage.data.length(r.stream.id, p.sub) };
    },
    async read(sid, path, i1, i2) {
      const p = splitBusPath(path);
      const out: Datapoint[] = [];
      if (!p || i2 <= i1) return out;
      for await (const rows of storage.data.readBatches(sid, p.sub, i1, i2)) for (const r of rows) out.push(parseStored(r));
      return out;
    },
  };
}
