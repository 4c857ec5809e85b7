/**
 * The typed errors services throw. The HTTP layer turns every one of them into ConnectorDB's
 * `{code,msg,ref}` body in one place (src/http/errors.ts); nothing below the routes knows HTTP.
 */
export class CdbError extends Error {
  constructor(
    /** The HTTP status the original answered with for this failure on this route. */
    public readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'CdbError';
  }
}

/** 400: malformed input the REST layer detects (bad JSON, bad range parameters, bad names in the URL). */
export class BadRequestError extends CdbError {
  constructor(message: string) {
    super(400, message);
  }
}

/** 401: authentication failed. */
export class UnauthorizedError extends CdbError {
  constructor(message: string) {
    super(401, message);
  }
}

/** 403: the original's answer for nearly every failure after parsing (create/update/delete/insert/read). */
export class ForbiddenError extends CdbError {
  constructor(message: string) {
    super(403, message);
  }
}

/** 404: reads and listings that fail, unknown routes. */
export class NotFoundError extends CdbError {
  constructor(message: string) {
    super(404, message);
  }
}

/** 413: body larger than the configured limit. */
export class PayloadTooLargeError extends CdbError {
  constructor(message: string) {
    super(413, message);
  }
}

/** 500: a failure while producing an answer (transform runtime errors on the first row, feeds). */
export class InternalError extends CdbError {
  constructor(message: string) {
    super(500, message);
  }
}

/** 429: too many failed logins; `retryAfter` seconds until the next attempt is accepted. */
export class TooManyRequestsError extends CdbError {
  constructor(
    message: string,
    readonly retryAfter: number,
  ) {
    super(429, message);
  }
}
