/**
 * PipeScript (ConnectorDB 0.3 transform language) as a self-contained library.
 *
 * What an output datapoint's `d` may contain: plain JSON values (number, string, boolean, null, arrays,
 * plain objects) plus two wrapper classes for the rare number kinds of spec §1:
 *  - `PsInt` (integer-kind numbers: count, i, length, wc, datetime fields, string bytes),
 *  - `PsFloat32` (sentiment results, written with float32 shortest digits),
 * which may also appear nested inside arrays/objects (e.g. `map(..., count)`). Numbers may be NaN/±Inf.
 * Serialise with `datapointToJSON` (which rejects non-finite numbers like the original); both wrappers
 * also have `toJSON()`/`valueOf()` so generic code degrades gracefully. `toPlain` unwraps them.
 * Input `d` objects are never mutated; outputs may share sub-objects with inputs.
 */
export type { Datapoint } from './datapoint';
export { PipeScriptError } from './errors';
export type { PipeScriptErrorKind } from './errors';
export type { PipeScriptConfig } from './config';
export { configurePipeScript } from './config';
export type { Script, ScriptInstance } from './script';
export { parseScript } from './script';
export { Reducer } from './reduce';
export type { ReductionKind } from './reduce';
export { datapointToJSON, toPlain } from './json';
export { transformListing } from './registry';
export type { TransformInfo, TransformArgInfo } from './registry';
export { pipescriptCli } from './cli';
export type { CliIO } from './cli';
export { PsInt, PsFloat32 } from './values';
