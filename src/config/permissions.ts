import { existsSync } from 'node:fs';
import { Permissions, defaultPermissions, type PermissionsFile } from '../permissions';
import type { Config } from './index';
import { isObj, readJsonWithComments, resolvePath } from './load';
import { ConfigError } from './validate';

/**
 * The `permissions` option: "default" (built in) or a permissions file in the original's format
 * (permissions.md §7), relative to the config folder. Keys missing at the top level take their
 * default. Throws a ConfigError with the validation message.
 */
export function loadPermissions(cfg: Config, opts: { join?: boolean } = {}): Permissions {
  let file: PermissionsFile;
  if (cfg.permissions === '' || cfg.permissions === 'default') file = defaultPermissions();
  else {
    const p = resolvePath(cfg, cfg.permissions);
    if (!existsSync(p)) throw new ConfigError(p, [`The permissions file ${p} (option 'permissions') does not exist`]);
    const parsed = readJsonWithComments(p);
    if (!isObj(parsed)) throw new ConfigError(p, ['A permissions file must contain a JSON object']);
    file = { ...defaultPermissions(), ...(parsed as Partial<PermissionsFile>) };
    try {
      return applyJoin(new Permissions(file), opts.join);
    } catch (e) {
      throw new ConfigError(p, [e instanceof Error ? e.message : String(e)]);
    }
  }
  return applyJoin(new Permissions(file), opts.join);
}

/** `run --join`: anonymous visitors may create accounts (in memory only). */
function applyJoin(p: Permissions, join: boolean | undefined): Permissions {
  if (!join) return p;
  const file = structuredClone(p.file);
  file.user_roles.nobody.join = true;
  return new Permissions(file);
}
