/**
 * The datapoint store: sealed compressed chunks plus a row-per-datapoint tail, in the SQLite
 * engine (src/storage/sqlite/chunked.ts). Re-exported here so the domain keeps one import path.
 */
export {
  ChunkedDatapointStore as DatapointStore,
  DOWNLINK,
  MAIN,
  type Piece,
  type StoredPoint,
  type Sub,
  type SubstreamInfo,
} from '../../storage/sqlite/chunked';
