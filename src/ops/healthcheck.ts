/**
 * The container health check: `node dist/ops/healthcheck.js [DIR]` reads the configuration the
 * way the server does (DIR's connectordb.conf, then CONNECTORDB_* variables) and asks the running
 * server for its version on the configured port. Exit 0 when it answers 200, 1 otherwise.
 */
import { readConfig } from '../config/load';

export async function healthcheck(dir: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 4000): Promise<boolean> {
  let port: number;
  let host: string;
  try {
    const { config } = readConfig(dir, { env, noValidate: true });
    port = config.port;
    // Bound to all interfaces (the image's default): loopback reaches it.
    host = !config.hostname || config.hostname === '0.0.0.0' || config.hostname === '::' ? '127.0.0.1' : config.hostname;
  } catch {
    return false;
  }
  try {
    const r = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/api/v1/meta/ready`, { signal: AbortSignal.timeout(timeoutMs) });
    return r.ok;
  } catch {
    return false;
  }
}

if (require.main === module) {
  void healthcheck(process.argv[2] ?? '/data').then((ok) => process.exit(ok ? 0 : 1));
}
