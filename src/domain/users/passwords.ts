import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { UserRow } from '../types';

/** OWASP's minimum for argon2id: strong, yet a Raspberry Pi verifies it in well under a second. */
const ARGON2_OPTS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHash {
  password: string;
  password_salt: string;
  password_scheme: string;
}

export async function hashPassword(plain: string): Promise<PasswordHash> {
  return { password: await argon2.hash(plain, ARGON2_OPTS), password_salt: '', password_scheme: 'argon2id' };
}

/** True when the stored hash is of a scheme we no longer write (imported from the original). */
export function isLegacy(u: PasswordHash): boolean {
  return u.password_scheme !== 'argon2id';
}

const safeEqualStr = (a: string, b: string): boolean => {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
};

/**
 * Verifies against whatever scheme is stored: argon2id (ours), or the original's bcrypt / SHA512 of
 * `password + salt` (data-model §3.4).
 */
export async function verifyPassword(u: PasswordHash, plain: string): Promise<boolean> {
  switch (u.password_scheme) {
    case 'argon2id':
    case 'argon2':
      try {
        return await argon2.verify(u.password, plain);
      } catch {
        return false;
      }
    case 'SHA512':
      return safeEqualStr(createHash('sha512').update(plain + u.password_salt).digest('hex'), u.password.toLowerCase());
    case 'bcrypt':
    case '':
      try {
        return await bcrypt.compare(plain + u.password_salt, u.password);
      } catch {
        return false;
      }
    default:
      return false;
  }
}

/**
 * Remembers recently verified (user, stored hash, password) triples so a session of Basic-auth
 * requests does not pay a full argon2 verification each time. Entries are HMACs under a per-process
 * key, so the cache never holds a password; they include the stored hash, so a password change
 * (or deletion and re-creation) invalidates them without any bookkeeping.
 */
export class VerifiedCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly max = 10000,
    private readonly ttlMs = 10 * 60 * 1000,
  ) {}

  private id(u: UserRow, plain: string): string {
    return createHmac('sha256', this.key).update(`${u.id}\0${u.password}\0${plain}`).digest('base64');
  }

  has(u: UserRow, plain: string): boolean {
    const k = this.id(u, plain);
    const exp = this.entries.get(k);
    if (exp === undefined) return false;
    if (exp < Date.now()) {
      this.entries.delete(k);
      return false;
    }
    return true;
  }

  /** Forgets every verified login (e.g. after an import replaced password hashes wholesale). */
  clear(): void {
    this.entries.clear();
  }

  add(u: UserRow, plain: string): void {
    if (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(this.id(u, plain), Date.now() + this.ttlMs);
  }
}
