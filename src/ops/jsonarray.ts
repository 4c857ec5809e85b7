import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

const CHUNK = 1 << 20;

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff;

/**
 * Reads a JSON array file element by element with flat memory (export files may hold millions of
 * datapoints). Synchronous on purpose: the importer runs inside one SQLite transaction.
 * `onBytes` reports the bytes consumed so far.
 */
export function* readJsonArray(file: string, onBytes?: (n: number) => void): Generator<unknown> {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  const dec = new StringDecoder('utf8');
  let phase = 'start' as 'start' | 'items' | 'end';
  let depth = 0;
  let inStr = false;
  let esc = false;
  let pending = '';
  let count = 0;
  let bytes = 0;
  const parse = (text: string): unknown => {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: element ${count} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  };
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      bytes += n;
      const s = dec.write(buf.subarray(0, n));
      let seg = 0;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (phase === 'items') {
          if (inStr) {
            if (esc) esc = false;
            else if (c === 0x5c) esc = true;
            else if (c === 0x22) inStr = false;
            continue;
          }
          if (c === 0x22) inStr = true;
          else if (c === 0x7b || c === 0x5b) depth++;
          else if (depth > 0 && (c === 0x7d || c === 0x5d)) depth--;
          else if (depth === 0 && (c === 0x2c || c === 0x5d)) {
            const text = pending + s.slice(seg, i);
            pending = '';
            seg = i + 1;
            if (text.trim() === '') {
              if (c === 0x2c || count > 0) throw new Error(`${file}: unexpected '${String.fromCharCode(c)}' after element ${count}`);
            } else {
              const v = parse(text);
              count++;
              yield v;
            }
            if (c === 0x5d) phase = 'end';
          }
        } else if (phase === 'start') {
          if (isWs(c)) continue;
          if (c !== 0x5b) throw new Error(`${file} does not hold a JSON array`);
          phase = 'items';
          seg = i + 1;
        } else if (!isWs(c)) throw new Error(`${file}: unexpected data after the end of the array`);
      }
      if (phase === 'items') pending += s.slice(seg);
      onBytes?.(bytes);
    }
  } finally {
    closeSync(fd);
  }
  if (phase !== 'end') throw new Error(`${file}: unexpected end of file (the JSON array is not closed)`);
}
