import { TooManyRequestsError } from '../errors';

export interface LoginLimitConfig {
  /** Failed password logins one client address may make per window; 0 = no limit. */
  per_ip: number;
  /** Failed password logins one account may receive per window, from all addresses; 0 = no limit. */
  per_account: number;
  /** Window length in seconds. */
  window: number;
}

interface Counter {
  count: number;
  resetAt: number;
}

/** Entries kept per table before expired ones are swept (a flood of addresses cannot grow memory without bound). */
const MAX_ENTRIES = 100_000;

/**
 * Failed-login limiter: fixed-window counters per client address and per account, in process.
 *
 * Why not @fastify/rate-limit: it counts requests per route and key, while this must count only
 * failed password logins, key them by the account named in the Basic header as well as by address,
 * and let an account's owner in from an address that has logged in before while the account is
 * under attack. That is two small maps, not a plugin.
 *
 * An attempt is counted when it starts and refunded when it succeeds, so 50 wrong passwords sent
 * in parallel cannot all slip through before the first one has been verified.
 */
export class LoginLimiter {
  private readonly byIp = new Map<string, Counter>();
  private readonly byAccount = new Map<string, Counter>();
  /** `account\0ip` pairs that logged in successfully: exempt from the account limit. */
  private readonly known = new Map<string, true>();

  constructor(
    private readonly cfg: LoginLimitConfig,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.cfg.window > 0 && (this.cfg.per_ip > 0 || this.cfg.per_account > 0);
  }

  /** Counts one attempt, or throws TooManyRequestsError when the address or account is over its limit. */
  begin(ip: string, account: string): Attempt {
    const acct = account.toLowerCase();
    const t = this.now();
    const ipKey = this.cfg.per_ip > 0 ? ip : undefined;
    const acctKey = this.cfg.per_account > 0 && !this.known.has(`${acct}\0${ip}`) ? acct : undefined;
    const a = ipKey === undefined ? undefined : this.over(this.byIp, ipKey, this.cfg.per_ip, t);
    const b = acctKey === undefined ? undefined : this.over(this.byAccount, acctKey, this.cfg.per_account, t);
    if (a !== undefined || b !== undefined) {
      const wait = Math.max(a ?? 0, b ?? 0);
      const secs = Math.max(1, Math.ceil(wait / 1000));
      throw new TooManyRequestsError(`Too many failed logins. Try again in ${secs} seconds`, secs);
    }
    if (ipKey !== undefined) this.bump(this.byIp, ipKey, t);
    if (acctKey !== undefined) this.bump(this.byAccount, acctKey, t);
    const refund = () => {
      if (ipKey !== undefined) this.refund(this.byIp, ipKey);
      if (acctKey !== undefined) this.refund(this.byAccount, acctKey);
    };
    return {
      cancel: refund,
      succeeded: () => {
        refund();
        const k = `${acct}\0${ip}`;
        this.known.delete(k);
        this.known.set(k, true);
        if (this.known.size > MAX_ENTRIES) this.known.delete(this.known.keys().next().value as string);
      },
    };
  }

  /** Milliseconds until the key is under its limit again, or undefined when it is under it now. */
  private over(m: Map<string, Counter>, key: string, limit: number, t: number): number | undefined {
    const c = m.get(key);
    if (!c || c.resetAt <= t || c.count < limit) return undefined;
    return c.resetAt - t;
  }

  private bump(m: Map<string, Counter>, key: string, t: number): void {
    const c = m.get(key);
    if (c && c.resetAt > t) {
      c.count++;
      return;
    }
    if (m.size >= MAX_ENTRIES) for (const [k, v] of m) if (v.resetAt <= t) m.delete(k);
    // Still full of live entries: forget the oldest rather than grow.
    if (m.size >= MAX_ENTRIES) m.delete(m.keys().next().value as string);
    m.set(key, { count: 1, resetAt: t + this.cfg.window * 1000 });
  }

  private refund(m: Map<string, Counter>, key: string): void {
    const c = m.get(key);
    if (c && c.count > 0) c.count--;
  }
}

export interface Attempt {
  /** The login succeeded: refunds the attempt and remembers the address for this account. */
  succeeded(): void;
  /** The attempt failed for a reason other than the credentials: refunds it. */
  cancel(): void;
}
