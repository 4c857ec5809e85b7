import { createHash } from 'node:crypto';

/**
 * Devices are looked up by the SHA-256 of their key (see migrations/002): every engine stores and
 * searches the hash, so the one definition lives beside the storage interface.
 */
export const apikeyHash = (key: string): string => (key === '' ? '' : createHash('sha256').update(key).digest('hex'));
