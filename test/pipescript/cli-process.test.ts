import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAIN } from '../process';

const run = (args: string[], input?: string) => spawnSync(process.execPath, [MAIN, 'pipescript', ...args], { input, encoding: 'utf8' });

describe('node dist/main.js pipescript', () => {
  it('reads datapoints on stdin and prints the transformed array', () => {
    const r = run(['if $ > 50 | sum'], '[{"t":1,"d":3},{"t":2,"d":60},{"t":3,"d":70}]');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { t: 2, d: 60 },
      { t: 3, d: 130 },
    ]);
  });

  it('reads datapoints from --input FILE', () => {
    const f = path.join(mkdtempSync(path.join(tmpdir(), 'cdb-ps-')), 'in.json');
    writeFileSync(f, '[{"t":1,"d":{"a":1}},{"t":2,"d":{"a":5}}]');
    const r = run(['$("a") * 2', '--input', f]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { t: 1, d: 2 },
      { t: 2, d: 10 },
    ]);
  });

  it('prints a bad script error on stderr and exits 1', () => {
    const r = run(['bad ((('], '[]');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe("Script 'bad (((': syntax error");
  });

  it('prints datapoints as the original did: "d":null kept, t 0 printed, no o', () => {
    const r = run(['$'], '[{"t":0,"d":1},{"t":2},{"t":3,"d":null,"o":"a/b"},{"d":false}]');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('[{"t":0,"d":1},{"t":2,"d":null},{"t":3,"d":null},{"t":0,"d":false}]\n');
  });

  it('a script starting with - is a script, not an option', () => {
    const a = run(['-5 % 3'], '[{"t":1,"d":0}]');
    expect(a.status, a.stderr).toBe(0);
    expect(a.stdout).toBe('[{"t":1,"d":-2}]\n');
    const b = run(['-false'], '[{"t":1,"d":0}]');
    expect(b.status, b.stderr).toBe(0);
    expect(b.stdout).toBe('[{"t":1,"d":true}]\n');
    const f = path.join(mkdtempSync(path.join(tmpdir(), 'cdb-ps-')), 'in.json');
    writeFileSync(f, '[{"t":1,"d":4}]');
    const c = run(['-$', '--input', f]);
    expect(c.stdout).toBe('[{"t":1,"d":-4}]\n');
  });
});
