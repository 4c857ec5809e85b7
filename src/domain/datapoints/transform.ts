import { ForbiddenError } from '../../errors';
import { PipeScriptError, parseScript, type Script } from '../../pipescript';

export type Transformer = Script;

/**
 * Parses a `transform=` string once per query. An empty or missing transform means none
 * (pipescript §10.2); a parse error is a 403 carrying the PipeScript message.
 */
export function compileTransform(src: string | undefined | null): Transformer | null {
  if (src === undefined || src === null || src === '') return null;
  try {
    return parseScript(src);
  } catch (e) {
    if (e instanceof PipeScriptError) throw new ForbiddenError(e.message);
    throw e;
  }
}
