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

/**
 * A value the engine cannot store as given: PostgreSQL's text cannot hold U+0000. Nothing was
 * written; the request is answered like the services' own refusals of a field (403).
 */
export class StorageRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StorageRefused';
  }
}
