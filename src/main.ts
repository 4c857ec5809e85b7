#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Config, configFileText, defaultConfig } from './config';
import { CONFIG_NAME, databaseFile, readConfig } from './config/load';
import { loadPermissions } from './config/permissions';
import { buildServices } from './domain';
import { hashPassword } from './domain/users/passwords';
import { defaultPermissions } from './permissions';
import { pipescriptCli } from './pipescript';
import { VERSION } from './version';
import * as admin from './ops/admin';
import { backupDatabase } from './storage/sqlite/backup';
import { Rest, clientExport, clientImport } from './ops/client';
import { exportDatabase } from './ops/export';
import { importDatabase } from './ops/import';
import { type OpenedDatabase, openFolder } from './ops/open';
import { TerminalProgress } from './ops/progress';
import { startServer } from './server';
import { openStorage } from './storage';

/** An existing directory may be used only when empty (e.g. a freshly mounted Docker volume). */
function usableNewDir(dir: string): boolean {
  if (!existsSync(dir)) return true;
  return statSync(dir).isDirectory() && readdirSync(dir).length === 0;
}

/** Writes a new database folder: config file, SQLite schema, and optionally the first admin. */
export async function createDatabase(dir: string, user?: { name: string; password: string; email: string }, opts: { anyDir?: boolean } = {}): Promise<void> {
  if (!opts.anyDir && !usableNewDir(dir)) throw new Error('Cannot initialize database in an existing directory');
  mkdirSync(dir, { recursive: true });
  const cfg = defaultConfig(path.resolve(dir));
  writeFileSync(path.join(dir, CONFIG_NAME), configFileText(cfg), { mode: 0o600 });
  const storage = openStorage(cfg);
  try {
    if (user) {
      const svc = buildServices(storage, cfg);
      const hash = await hashPassword(user.password);
      await svc.users.insertUser({ name: user.name, email: user.email, password: user.password, role: 'admin', public: false }, hash);
    }
  } finally {
    await storage.close();
  }
}

function parseUser(spec: string): { name: string; password: string } {
  const i = spec.indexOf(':');
  if (i <= 0 || i === spec.length - 1) throw new Error('User must be in username:password format');
  return { name: spec.slice(0, i), password: spec.slice(i + 1) };
}

interface GlobalOpts {
  logfile?: string;
  loglevel?: string;
}
interface RunOpts extends GlobalOpts {
  host?: string;
  port?: string;
  http?: boolean;
  join?: boolean;
  vvv?: boolean;
}

/** Flags override environment and file (precedence flags > env > file > defaults). */
function flagOverrides(o: RunOpts): (c: Config) => void {
  return (c) => {
    if (o.host !== undefined) c.hostname = o.host;
    if (o.port !== undefined) c.port = o.port.trim() === '' ? NaN : Number(o.port);
    if (o.logfile !== undefined) c.logfile = o.logfile;
    if (o.loglevel !== undefined) c.loglevel = o.loglevel;
    if (o.vvv) c.loglevel = 'debug';
    if (o.http) c.tls.enabled = false;
  };
}

async function run(dir: string, o: RunOpts): Promise<void> {
  const { config, warnings } = readConfig(dir, { overrides: flagOverrides(o) });
  const permissions = loadPermissions(config, { join: o.join });
  const s = await startServer(config, { installSignals: true, permissions, warnings });
  s.logger.info(`ConnectorDB ${VERSION} is serving ${path.resolve(dir)} at ${s.url}`);
}

const warnAll = (ws: string[]) => {
  for (const w of ws) process.stderr.write(`warning: ${w}\n`);
};

/** Runs fn on an opened database folder and closes it. */
async function withFolder<T>(dir: string, fn: (o: OpenedDatabase) => T | Promise<T>): Promise<T> {
  const o = openFolder(dir);
  warnAll(o.warnings);
  try {
    return await fn(o);
  } finally {
    await o.close();
  }
}

/** A password given as an argument, or `-`/absent: the first line of stdin. */
async function passwordArg(p: string | undefined): Promise<string> {
  if (p !== undefined && p !== '-') return p;
  if (process.stdin.isTTY) process.stderr.write('Password: ');
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) {
    text += chunk as string;
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0];
}

function printTable(rows: object[]): void {
  if (rows.length === 0) return;
  const recs = rows as Record<string, unknown>[];
  const keys = Object.keys(recs[0]);
  const w = keys.map((k) => Math.max(k.length, ...recs.map((r) => String(r[k]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(w[i])).join('  ').trimEnd();
  console.log(line(keys.map((k) => k.toUpperCase())));
  for (const r of recs) console.log(line(keys.map((k) => String(r[k]))));
}

const progress = (label: string, unit: string) => new TerminalProgress(process.stderr, unit, label);

export function program(): Command {
  const p = new Command('connectordb');
  p.description('ConnectorDB 0.3 compatible time-series server on embedded SQLite').version(`ConnectorDB v${VERSION}`, '--version');
  p.option('--semver', 'print only the version');
  p.option('--logfile <file>', 'write logs to this file as JSON lines (default: stdout)');
  p.option('-l, --loglevel <level>', 'debug, info, warn or error');
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

  const runFlags = (c: Command) =>
    c
      .option('--host <iface>', 'bind address (overrides hostname)')
      .option('-p, --port <n>', 'port (overrides port; default 3124)')
      .option('--http', 'force plain HTTP (ignore tls settings)')
      .option('--join', 'allow anonymous visitors to create accounts')
      .option('--vvv', 'log at debug level');

  runFlags(p.command('run <dir>').description('serve a database folder in the foreground')).action(async (dir: string, _o: RunOpts, cmd: Command) => {
    await run(dir, cmd.optsWithGlobals<RunOpts>());
  });

  runFlags(p.command('start [dir]').description('create the folder with an admin on first start (default ./cdb-data), then serve it')).action(
    async (dir: string | undefined, _o: RunOpts, cmd: Command) => {
      const d = dir ?? 'cdb-data';
      if (!existsSync(path.join(d, CONFIG_NAME)) && usableNewDir(d)) {
        const password = randomBytes(9).toString('base64url');
        await createDatabase(d, { name: 'admin', password, email: 'root@localhost' });
        console.log(
          `Created ${path.resolve(d)} with the admin user.\n  Log in as   admin / ${password}\n` +
            `  (change it with: node dist/main.js user passwd ${d} admin)`,
        );
      }
      await run(d, cmd.optsWithGlobals<RunOpts>());
    },
  );

  p.command('export <dir> <outdir>')
    .description('export every user, device, stream and datapoint (format version 2, with password hashes)')
    .action(async (dir: string, out: string) => {
      await withFolder(dir, ({ svc }) => exportDatabase(svc, out, progress('export', 'datapoints')));
    });

  p.command('import <dir> <indir>')
    .description('import an export of this server or of ConnectorDB 0.3 (versions 1 and 2); all or nothing')
    .action(async (dir: string, indir: string) => {
      // A folder without config and database (new, or a volume holding just the export) is set up.
      if (!existsSync(path.join(dir, CONFIG_NAME)) && !existsSync(path.join(dir, 'db.sqlite3'))) {
        await createDatabase(dir, undefined, { anyDir: true });
        console.error(`Created ConnectorDB database in ${path.resolve(dir)}`);
      }
      await withFolder(dir, ({ svc }) => importDatabase(svc, indir, progress('import', 'bytes')));
    });

  p.command('backup <dir> <file>')
    .description("copy the database to FILE with SQLite's online backup (safe while the server runs)")
    .action(async (dir: string, file: string) => {
      await withFolder(dir, ({ storage }) => backupDatabase(storage.db, file, progress('backup', 'bytes')));
    });

  p.command('dbinfo <dir>')
    .description('print the database file, user/device/stream counts, and datapoints, chunks and bytes on disk per stream')
    .action(async (dir: string) => {
      await withFolder(dir, async ({ svc, config }) =>
        console.log(JSON.stringify({ database: databaseFile(config), ...(await admin.dbinfo(svc)), ...(await admin.storageInfo(svc)) }, null, 2)),
      );
    });

  const user = p.command('user').description('manage users (acts directly on the database, like the original shell)');
  user
    .command('add <dir> <name>')
    .description('create a user; the password is read from stdin unless --password is given')
    .requiredOption('--email <addr>', 'email address')
    .option('--password <password>', 'password (default: first line of stdin)')
    .option('--role <role>', 'user role', 'user')
    .option('--public', 'make the user public', false)
    .option('--nickname <text>', 'nickname')
    .option('--description <text>', 'description')
    .action(async (dir: string, name: string, o: { email: string; password?: string; role: string; public: boolean; nickname?: string; description?: string }) => {
      const password = await passwordArg(o.password);
      await withFolder(dir, async ({ svc }) => {
        await admin.addUser(svc, { name, email: o.email, password, role: o.role, public: o.public, nickname: o.nickname, description: o.description });
        console.log(`Created user '${name}' (role ${o.role})`);
      });
    });
  user
    .command('ls <dir>')
    .alias('list')
    .description('list users')
    .option('--role <role>', 'only users with this role (e.g. admin)')
    .option('--json', 'print JSON')
    .action(async (dir: string, o: { role?: string; json?: boolean }) => {
      await withFolder(dir, async ({ svc }) => {
        const rows = await admin.listUsers(svc, { role: o.role });
        if (o.json) console.log(JSON.stringify(rows, null, 2));
        else printTable(rows);
      });
    });
  user
    .command('rm <dir> <name>')
    .alias('remove')
    .description('delete a user with all its devices, streams and data')
    .action(async (dir: string, name: string) => {
      await withFolder(dir, ({ svc }) => admin.removeUser(svc, name));
      console.log(`Deleted user '${name}'`);
    });
  user
    .command('passwd <dir> <name> [password]')
    .description('set a password (read from stdin when not given)')
    .action(async (dir: string, name: string, pw: string | undefined) => {
      const password = await passwordArg(pw);
      await withFolder(dir, ({ svc }) => admin.setPassword(svc, name, password));
      console.log(`Password of '${name}' changed`);
    });
  user
    .command('role <dir> <name> <role>')
    .description('set the role of a user (e.g. admin, user)')
    .action(async (dir: string, name: string, role: string) => {
      await withFolder(dir, ({ svc }) => admin.setRole(svc, name, role));
      console.log(`'${name}' now has role '${role}'`);
    });
  user
    .command('mkadmin <dir> <name>')
    .description("set the user's role to admin (the original shell's mkadmin)")
    .action(async (dir: string, name: string) => {
      await withFolder(dir, ({ svc }) => admin.setRole(svc, name, 'admin'));
      console.log(`'${name}' is now an admin`);
    });
  user
    .command('rmadmin <dir> <name>')
    .description("set the user's role to user")
    .action(async (dir: string, name: string) => {
      await withFolder(dir, ({ svc }) => admin.setRole(svc, name, 'user'));
      console.log(`'${name}' is no longer an admin`);
    });

  const device = p.command('device').description('manage devices (acts directly on the database)');
  device
    .command('add <dir> <path>')
    .description('create device USER/DEVICE and print its API key')
    .option('--role <role>', 'device role')
    .option('--public', 'make the device public')
    .option('--nickname <text>', 'nickname')
    .option('--description <text>', 'description')
    .action(async (dir: string, dp: string, o: { role?: string; public?: boolean; nickname?: string; description?: string }) => {
      const key = await withFolder(dir, ({ svc }) => admin.addDevice(svc, dp, o));
      console.log(key);
    });
  device
    .command('ls <dir> <user>')
    .alias('list')
    .description("list a user's devices")
    .option('--json', 'print JSON')
    .action(async (dir: string, u: string, o: { json?: boolean }) => {
      await withFolder(dir, async ({ svc }) => {
        const rows = await admin.listDevices(svc, u);
        if (o.json) console.log(JSON.stringify(rows, null, 2));
        else printTable(rows);
      });
    });
  device
    .command('rm <dir> <path>')
    .alias('remove')
    .description('delete device USER/DEVICE with its streams and data')
    .action(async (dir: string, dp: string) => {
      await withFolder(dir, ({ svc }) => admin.removeDevice(svc, dp));
      console.log(`Deleted device '${dp}'`);
    });
  device
    .command('reset-apikey <dir> <path>')
    .description('give USER/DEVICE (or USER for its user device) a new API key and print it')
    .action(async (dir: string, dp: string) => {
      console.log(await withFolder(dir, ({ svc }) => admin.resetApikey(svc, dp)));
    });

  const write = p.command('write').description('write default files');
  write
    .command('config <file>')
    .description('write a fresh configuration file with new random secrets')
    .action((file: string) => {
      if (existsSync(file)) throw new Error(`${file} already exists`);
      writeFileSync(file, configFileText(), { mode: 0o600 });
      console.log(`Wrote ${file}`);
    });
  write
    .command('permissions <file>')
    .description('write the default permissions file (edit it and set "permissions" in the config to its path)')
    .action((file: string) => {
      if (existsSync(file)) throw new Error(`${file} already exists`);
      writeFileSync(file, `${JSON.stringify(defaultPermissions(), null, 2)}\n`);
      console.log(`Wrote ${file}`);
    });

  p.command('client-export <url> <user> <password> <outdir>')
    .description("export over the REST API as the Python client's User.export does (format version 1, no passwords); password '-' reads stdin")
    .option('--user <name...>', 'users to export (default: the logged-in user)')
    .action(async (url: string, u: string, pw: string, out: string, o: { user?: string[] }) => {
      await clientExport(new Rest(url, u, await passwordArg(pw)), out, o.user ?? [], progress('client-export', 'datapoints'));
    });

  p.command('client-import <url> <user> <password> <indir>')
    .description("import a version 1 export over the REST API as the Python client's import_users does (needs an admin)")
    .action(async (url: string, u: string, pw: string, indir: string) => {
      await clientImport(new Rest(url, u, await passwordArg(pw)), indir, progress('client-import', 'datapoints'));
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
