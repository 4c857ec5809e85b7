import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { type Plugin, defineConfig } from 'vite';

// npm runs scripts from the package root; paths are relative to it.
const OUT = path.resolve('dist/public');
const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|txt|xml|ico|webmanifest)$/;

/**
 * Writes `.br` and `.gz` beside every compressible asset at build time, so the server sends
 * precompressed files (src/http/web.ts) without compressing per request. Kept only when smaller.
 */
function precompress(): Plugin {
  return {
    name: 'cdb-precompress',
    apply: 'build',
    closeBundle() {
      const walk = (dir: string): string[] =>
        readdirSync(dir).flatMap((f) => {
          const p = path.join(dir, f);
          return statSync(p).isDirectory() ? walk(p) : [p];
        });
      for (const file of walk(OUT)) {
        if (!COMPRESSIBLE.test(file)) continue;
        const raw = readFileSync(file);
        // Even tiny chunks (the bundler runtime, ~180 bytes) are precompressed: every script the app
        // loads then arrives compressed, and smaller wins anyway.
        if (raw.length < 64) continue;
        const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
        const gz = gzipSync(raw, { level: 9 });
        if (br.length < raw.length) writeFileSync(file + '.br', br);
        if (gz.length < raw.length) writeFileSync(file + '.gz', gz);
      }
    },
  };
}

// The web app (src/web) → dist/public, served by the server under /app/ (src/http/web.ts).
export default defineConfig({
  root: path.resolve('src/web'),
  base: '/app/',
  publicDir: path.resolve('src/web/public'),
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: OUT,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    assetsInlineLimit: 0,
  },
  plugins: [precompress()],
});
