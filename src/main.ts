#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Config, configFileText, defaultConfig } from './config';
import { CONFIG_NAME, databaseFile, isPostgres, postgresUri, readConfig, redactUri } from './config/load';
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
  const storage = await openStorage(cfg);
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

/** `--port`: a whole number from 0 to 65535, said in words otherwise (not "NaN"). */
export function parsePort(text: string): number {
  const t = text.trim();
  const n = /^\d+$/.test(t) ? Number(t) : NaN;
  if (!(n >= 0 && n <= 65535)) throw new Error(`--port must be a whole number from 0 to 65535, not "${text}"`);
  return n;
}

/** Letters and digits only: a password a shell, a form and a URL take as is (never a leading '-'). */
export function firstRunPassword(length = 16): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < length; i++) s += abc[randomInt(abc.length)];
  return s;
}

const NO_USER_HINT = (dir: string) =>
  `Nobody can log in yet: add an admin with
  connectordb user add ${dir} NAME --email ADDRESS --role admin
` +
  `(next time, create the folder with one: connectordb create DIR --user NAME:PASSWORD)`;

/** Flags override environment and file (precedence flags > env > file > defaults). */
function flagOverrides(o: RunOpts): (c: Config) => void {
  return (c) => {
    if (o.host !== undefined) c.hostname = o.host;
    if (o.port !== undefined) c.port = parsePort(o.port);
    if (o.logfile !== undefined) c.logfile = o.logfile;
    if (o.loglevel !== undefined) c.loglevel = o.loglevel;
    if (o.vvv) c.loglevel = 'debug';
    if (o.http) c.tls.enabled = false;
  };
}

async function run(dir: string, o: RunOpts): Promise<void> {
  if (!existsSync(dir)) {
    throw new Error(`The database folder ${path.resolve(dir)} does not exist.\nCreate it with: connectordb create ${dir} --user NAME:PASSWORD  (or: connectordb start ${dir})`);
  }
  if (statSync(dir).isDirectory() && !existsSync(path.join(dir, CONFIG_NAME)) && !existsSync(path.join(dir, 'db.sqlite3'))) {
    throw new Error(
      `${path.resolve(dir)} is not a ConnectorDB database folder (no ${CONFIG_NAME}, no db.sqlite3).\n` +
        `Create one with: connectordb create ${dir} --user NAME:PASSWORD  (or: connectordb start ${dir}, which creates it with an admin)`,
    );
  }
  const { config, warnings } = readConfig(dir, { overrides: flagOverrides(o) });
  const permissions = loadPermissions(config, { join: o.join });
  const s = await startServer(config, { installSignals: true, permissions, warnings });
  // `await` keeps this right whether the store answers now or (after the storage move) later.
  if ((await s.app.cdb.svc.core.users.count()) === 0) s.logger.warn(NO_USER_HINT(dir));
  s.logger.info(`ConnectorDB ${VERSION} is serving ${path.resolve(dir)} at ${s.url}`);
}

const warnAll = (ws: string[]) => {
  for (const w of ws) process.stderr.write(`warning: ${w}\n`);
};

/** Runs fn on an opened database folder and closes it. */
async function withFolder<T>(dir: string, fn: (o: OpenedDatabase) => T | Promise<T>): Promise<T> {
  const o = await openFolder(dir);
  warnAll(o.warnings);
  try {
    return await fn(o);
  } finally {
    await o.close();
  }
}

/** Reads one line from a terminal without echoing it (raw mode; backspace edits, Ctrl-C aborts). */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt appears, so nothing typed after it is ever shown.
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new Error('Cancelled'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (ch >= ' ') text += ch;
      }
    };
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

/** A password given as an argument, or `-`/absent: typed at a terminal without echo, or the first line of stdin. */
async function passwordArg(p: string | undefined): Promise<string> {
  if (p !== undefined && p !== '-') return p;
  if (process.stdin.isTTY) return readHidden('Password: ');
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
  // No action on the program itself, so a mistyped command is "unknown command 'x' (Did you mean
  // y?)" with exit 1, not "too many arguments".
  p.on('option:semver', () => {
    console.log(VERSION);
    process.exit(0);
  });
  p.showSuggestionAfterError(true);

  p.command('create <dir>')
    .description('create a new database folder (config + SQLite), optionally with an admin user')
    .option('--user <name:password>', 'create an initial user with role admin')
    .option('--email <addr>', 'email of that user', 'root@localhost')
    .action(async (dir: string, o: { user?: string; email: string }) => {
      const u = o.user ? { ...parseUser(o.user), email: o.email } : undefined;
      await createDatabase(dir, u);
      console.log(`Created ConnectorDB database in ${path.resolve(dir)}${u ? ` with admin user '${u.name}'` : ''}`);
      if (!u) console.log(NO_USER_HINT(dir));
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
        const password = firstRunPassword();
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
      // A folder without config and database (new, or a volume holding just the export) is set up,
      // and removed again (only what was created) when the import fails.
      let created: (() => void) | undefined;
      if (!existsSync(path.join(dir, CONFIG_NAME)) && !existsSync(path.join(dir, 'db.sqlite3'))) {
        const existed = existsSync(dir);
        await createDatabase(dir, undefined, { anyDir: true });
        created = () => {
          if (!existed) rmSync(dir, { recursive: true, force: true });
          else for (const f of [CONFIG_NAME, 'db.sqlite3', 'db.sqlite3-wal', 'db.sqlite3-shm']) rmSync(path.join(dir, f), { force: true });
        };
      }
      try {
        await withFolder(dir, ({ svc }) => importDatabase(svc, indir, progress('import', 'bytes')));
      } catch (e) {
        if (created) {
          created();
          throw new Error(`${e instanceof Error ? e.message : String(e)}\nThe new database folder ${path.resolve(dir)} was removed again.`);
        }
        throw e;
      }
      if (created) console.error(`Created ConnectorDB database in ${path.resolve(dir)}`);
    });

  p.command('backup <dir> <file>')
    .description("copy the database to FILE with SQLite's online backup (safe while the server runs)")
    .action(async (dir: string, file: string) => {
      await withFolder(dir, ({ sqlite }) => {
        if (!sqlite) throw new Error('backup copies a SQLite database file; this folder uses PostgreSQL (sql.type): back it up with pg_dump');
        return backupDatabase(sqlite.db, file, progress('backup', 'bytes'));
      });
    });

  p.command('dbinfo <dir>')
    .description('print the database file, user/device/stream counts, and datapoints, chunks and bytes on disk per stream')
    .action(async (dir: string) => {
      await withFolder(dir, async ({ svc, config }) =>
        console.log(JSON.stringify({ database: isPostgres(config) ? redactUri(postgresUri(config)) : databaseFile(config), ...(await admin.dbinfo(svc)), ...(await admin.storageInfo(svc)) }, null, 2)),
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

  // The words after `pipescript` go to its own parser untouched, so a script may start with '-'.
  p.command('pipescript')
    .usage('SCRIPT [--input FILE]')
    .description('run a PipeScript over a JSON array of datapoints from stdin (or --input FILE)')
    .argument('[args...]')
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .action(async (args: string[]) => {
      process.exitCode = await pipescriptCli(args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    });
  return p;
}

/**
 * A permission error on the data folder, said with the fix: typically a Docker bind mount of a
 * host folder owned by root while the image runs as `node` (uid 1000).
 */
export function explainError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if ((err?.code === 'EACCES' || err?.code === 'EPERM' || err?.code === 'EROFS') && typeof err.path === 'string') {
    const uid = process.getuid?.() ?? -1;
    const gid = process.getgid?.() ?? -1;
    const folder = path.dirname(err.path);
    return (
      `Permission denied writing ${err.path} (${err.code}): this process runs as uid ${uid}, gid ${gid}, which cannot write ${folder}.\n` +
      `Give it the folder, e.g. on the host: sudo chown -R ${uid}:${gid} <the folder mounted at ${folder}>` +
      `, or run the container as the folder's owner (docker run --user "$(id -u):$(id -g)"). See README "Docker".`
    );
  }
  return e instanceof Error ? e.message : String(e);
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
      console.error(explainError(e));
      process.exitCode = 1;
    });
}
