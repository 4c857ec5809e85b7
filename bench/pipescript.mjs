// PipeScript throughput: node bench/pipescript.mjs (after `npx tsc -p tsconfig.build.json`).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parseScript } = require('../dist/pipescript/index.js');

const N = 1_000_000;
const input = new Array(N);
for (let i = 0; i < N; i++) input[i] = { t: 1.5e9 + i, d: (i * 7919) % 100 };

const scripts = ['sum', 'if $ > 50', '$ * 2 + 1', 'mean | if last', 'map($ > 50, count)', 'while(count % 10 != 0, mean)', 'reduce(sum)'];
const objInput = new Array(N / 10);
for (let i = 0; i < N / 10; i++) objInput[i] = { t: 1.5e9 + i, d: { a: i % 7, b: i % 11, c: 3 } };

function time(script, data) {
  const s = parseScript(script);
  // warm up (JIT) on a slice, then take the best of several full runs
  for (let i = 0; i < 5; i++) s.runArray(data.slice(0, 100000));
  for (let i = 0; i < 2; i++) s.runArray(data); // let the heap grow to its working size
  let best = Infinity;
  let outLen = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    const out = s.runArray(data);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    outLen = out.length;
    if (dt < best) best = dt;
  }
  return { rate: data.length / best, outLen };
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
for (const script of scripts) {
  const data = script.startsWith('reduce') ? objInput : input;
  const { rate, outLen } = time(script, data);
  console.log(`pipescript  ${script.padEnd(30)} ${fmt(rate).padStart(12)} dp/s   (${fmt(data.length)} in, ${fmt(outLen)} out)`);
}

// The streaming path the server uses for stream reads: an input iterator, pulled datapoint by datapoint.
{
  const s = parseScript('sum');
  const pull = () => {
    const it = s.run(input[Symbol.iterator]());
    let n = 0;
    for (let r = it.next(); !r.done; r = it.next()) n++;
    return n;
  };
  pull();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    pull();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  console.log(`pipescript  ${'sum (run(iterator))'.padEnd(30)} ${fmt(N / best).padStart(12)} dp/s`);
}
