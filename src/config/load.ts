import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { type Config, defaultConfig } from './index';

export const CONFIG_NAME = 'connectordb.conf';

/** Removes // and /* *\/ comments outside strings (the original allowed JavaScript-style comments). */
export function stripComments(text: string): string {
  let out = '';
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inStr) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inStr = false;
    } else if (c === '"') {
      inStr = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      i += 2;
      while (i < text.length && !(text[i] === '*' && text[i + 1] === '/')) i++;
      i++;
    } else out += c;
  }
  return out;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(over)) {
    if (isObj(v) && isObj(base[k])) merge(base[k] as Record<string, unknown>, v);
    else base[k] = v;
  }
}

/** A folder means `<dir>/connectordb.conf` (server-cli-config §1). */
export function configPath(target: string): string {
  return existsSync(target) && statSync(target).isDirectory() ? path.join(target, CONFIG_NAME) : target;
}

/** Reads the config file of a database folder over the defaults. */
export function loadConfig(target: string): Config {
  const file = configPath(target);
  const dir = path.dirname(path.resolve(file));
  const cfg = defaultConfig(dir);
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(stripComments(readFileSync(file, 'utf8')));
    } catch (e) {
      throw new Error(`Could not read the configuration file ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!isObj(parsed)) throw new Error(`The configuration file ${file} must contain a JSON object`);
    merge(cfg as unknown as Record<string, unknown>, parsed);
    cfg.dir = dir;
  }
  return cfg;
}

/** Where the SQLite file of a config lives. */
export function databaseFile(cfg: Config): string {
  return path.resolve(cfg.dir, cfg.sql.uri || 'db.sqlite3');
}
