/** The query library: interpolators, datasets and merges over a StreamReader (no HTTP, no SQL). */
export type { StreamQuery, StreamReader } from './types';
export {
  compileInterpolator,
  createInterpolator,
  configureInterpolators,
  interpolatorListing,
  type CompiledInterpolator,
  type Interpolator,
  type InterpolatorInfo,
} from './interpolators';
export { runMerge, MergeIterator, MAX_MERGE } from './merge';
export { runDataset, BACKTRACK, DatasetMessages } from './dataset';
