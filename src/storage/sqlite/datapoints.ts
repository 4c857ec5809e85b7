/**
 * The SQLite datapoint store: sealed compressed chunks plus a row-per-datapoint tail
 * (./chunked.ts). Re-exported under the name the engine's other parts use.
 */
export { ChunkedDatapointStore as DatapointStore, type Piece } from './chunked';
export { DOWNLINK, MAIN, type StoredPoint, type Sub, type SubstreamInfo } from '../types';
