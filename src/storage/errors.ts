/**
 * A write refused by a uniqueness constraint of the engine: the service checked before writing,
 * and another writer took the name (or e-mail, or API key) in between. The service answers it as
 * it answers its own check.
 */
export class StorageConflict extends Error {
  constructor(readonly what: 'user' | 'device' | 'stream') {
    super(`storage conflict: ${what} already exists`);
    this.name = 'StorageConflict';
  }
}
