import { readFile } from 'node:fs/promises';
import type { Datapoint } from './datapoint';
import { PipeScriptError } from './errors';
import { valueToJSON } from './json';
import { parseScript } from './script';

export interface CliIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const USAGE = 'usage: connectordb pipescript SCRIPT [--input FILE]\n' +
  'Runs SCRIPT over a JSON array of datapoints read from stdin (or FILE) and prints the result as a JSON array.\n' +
  'A SCRIPT may start with "-" (e.g. "-5 % 3"); only --input, --help and -h are options.\n';

/**
 * One output datapoint as the original's pipescript Datapoint marshalled it: `t` and `d` always
 * (no omitempty: `{"t":0,"d":null}`), never `o`, PipeScript number kinds exact.
 */
export function cliDatapointJSON(dp: Datapoint): string {
  return '{"t":' + valueToJSON(dp.t) + ',"d":' + valueToJSON(dp.d === undefined ? null : dp.d) + '}';
}

async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function write(s: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (s.write(text)) resolve();
    else s.once('drain', () => resolve());
  });
}

function toDatapoints(v: unknown): Datapoint[] {
  if (!Array.isArray(v)) throw new Error('input must be a JSON array of datapoints');
  return v.map((x, i) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new Error(`datapoint ${i} is not an object`);
    const o = x as Record<string, unknown>;
    const t = o.t === undefined ? 0 : o.t;
    if (typeof t !== 'number') throw new Error(`datapoint ${i} has a non-numeric timestamp`);
    const dp: Datapoint = { t, d: o.d === undefined ? null : o.d };
    if (typeof o.o === 'string' && o.o !== '') dp.o = o.o;
    return dp;
  });
}

/**
 * `connectordb pipescript 'SCRIPT' [--input FILE]`; `args` are the words after the subcommand.
 * Exit code 0 on success; 1 (message on stderr) on a bad script, bad input, or an error while running.
 */
export async function pipescriptCli(args: string[], io: CliIO): Promise<number> {
  let script: string | undefined;
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    // Anything else starting with '-' is a script (`-5 % 3`, `-false`, `-i`): only these are options.
    if (a === '--' && script === undefined && i + 1 < args.length) script = args[++i];
    else if (a === '--input') {
      file = args[++i];
      if (file === undefined) {
        await write(io.stderr, USAGE);
        return 1;
      }
    } else if (a.startsWith('--input=')) file = a.slice(8);
    else if (a === '--help' || a === '-h') {
      await write(io.stdout, USAGE);
      return 0;
    } else if (script === undefined) script = a;
    else {
      await write(io.stderr, USAGE);
      return 1;
    }
  }
  if (script === undefined) {
    await write(io.stderr, USAGE);
    return 1;
  }
  try {
    const s = parseScript(script);
    const text = file !== undefined ? await readFile(file, 'utf8') : await readAll(io.stdin);
    const input = toDatapoints(text.trim() === '' ? [] : JSON.parse(text));
    const parts: string[] = [];
    const it = s.run(input[Symbol.iterator]());
    for (let r = it.next(); !r.done; r = it.next()) parts.push(cliDatapointJSON(r.value));
    await write(io.stdout, '[' + parts.join(',') + ']\n');
    return 0;
  } catch (e) {
    const msg = e instanceof PipeScriptError || e instanceof Error ? e.message : String(e);
    await write(io.stderr, msg + '\n');
    return 1;
  }
}

if (require.main === module) {
  void pipescriptCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
  );
}
