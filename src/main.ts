#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultConfig } from './config';
import { CONFIG_NAME, databaseFile, loadConfig } from './config/load';
import { buildServices } from './domain';
import { hashPassword } from './domain/users/passwords';
import { pipescriptCli } from './pipescript';
import { VERSION } from './http/routes/root';
import { startServer } from './server';
import { openDatabase } from './storage/db';

/** Writes a new database folder: config file, SQLite schema, and optionally the first admin. */
export async function createDatabase(dir: string, user?: { name: string; password: string; email: string }): Promise<void> {
  if (existsSync(dir)) throw new Error('Cannot initialize database in an existing directory');
  mkdirSync(dir, { recursive: true });
  const cfg = defaultConfig(path.resolve(dir));
  const { dir: _omit, ...file } = cfg;
  writeFileSync(
    path.join(dir, CONFIG_NAME),
    `/* ConnectorDB configuration. Every option and its default is documented in config.example.json. */\n${JSON.stringify(file, null, 2)}\n`,
    { mode: 0o600 },
  );
  const db = openDatabase(databaseFile(cfg));
  try {
    if (user) {
      const svc = buildServices(db, cfg);
      const hash = await hashPassword(user.password);
      svc.core.tx(() => svc.users.insertUser({ name: user.name, email: user.email, password: user.password, role: 'admin', public: false }, hash));
    }
  } finally {
    db.close();
  }
}

function parseUser(spec: string): { name: string; password: string } {
  const i = spec.indexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new Error('User must be in username:password format');
  return { name: spec.slice(0, i), password: spec.slice(i + 1) };
}

async function run(dir: string, o: { host?: string; port?: string }): Promise<void> {
  const cfg = loadConfig(dir);
  if (o.host !== undefined) cfg.hostname = o.host;
  if (o.port !== undefined) cfg.port = Number(o.port);
  const s = await startServer(cfg, { installSignals: true });
  s.app.log.info(`ConnectorDB ${VERSION} is serving ${path.resolve(dir)} at ${s.url}`);
}

export function program(): Command {
  const p = new Command('connectordb');
  p.description('ConnectorDB 0.3 compatible time-series server on embedded SQLite').version(`ConnectorDB v${VERSION}`, '--version');
  p.option('--semver', 'print only the version');
  p.action((o: { semver?: boolean }) => {
    if (o.semver) console.log(VERSION);
    else p.help();
  });

  p.command('create <dir>')
    .description('create a new database folder (config + SQLite), optionally with an admin user')
    .option('--user <name:password>', 'create an initial user with role admin')
    .option('--email <addr>', 'email of that user', 'root@localhost')
    .action(async (dir: string, o: { user?: string; email: string }) => {
      const u = o.user ? { ...parseUser(o.user), email: o.email } : undefined;
      await createDatabase(dir, u);
      console.log(`Created ConnectorDB database in ${path.resolve(dir)}${u ? ` with admin user '${u.name}'` : ''}`);
    });

  p.command('run <dir>')
    .description('serve a database folder in the foreground')
    .option('--host <iface>', 'bind address')
    .option('-p, --port <n>', 'port (default 3124)')
    .action(run);

  p.command('start [dir]')
    .description('create the folder with an admin on first start (default ./cdb-data), then serve it')
    .option('--host <iface>', 'bind address')
    .option('-p, --port <n>', 'port (default 3124)')
    .action(async (dir: string | undefined, o: { host?: string; port?: string }) => {
      const d = dir ?? 'cdb-data';
      if (!existsSync(d)) {
        const password = randomBytes(9).toString('base64url');
        await createDatabase(d, { name: 'admin', password, email: 'root@localhost' });
        console.log(`Created ${path.resolve(d)} with the admin user.\n  Log in as   admin / ${password}\n  (change it with: PUT /api/v1/crud/admin {"password": "..."})`);
      }
      await run(d, o);
    });

  p.command('pipescript <script>')
    .description('run a PipeScript over a JSON array of datapoints from stdin (or --input FILE)')
    .option('--input <file>', 'read the datapoints from this file')
    .action(async (script: string, o: { input?: string }) => {
      const args = [script, ...(o.input ? ['--input', o.input] : [])];
      process.exitCode = await pipescriptCli(args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    });
  return p;
}

if (require.main === module) {
  program()
    .exitOverride()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      if (e instanceof CommanderError) {
        process.exitCode = e.exitCode;
        return;
      }
      console.error(e instanceof Error ? e.message : String(e));
      process.exitCode = 1;
    });
}
