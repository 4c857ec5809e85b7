-- Sealed, compressed datapoint chunks (issue 11). The `datapoints` table stays as the tail: the
-- newest points of a substream, one row each, until there are enough to seal a chunk.
-- Indexes in `chunks` and `datapoints` are physical: a datapoint's index as clients see it is its
-- physical index minus the substream's `base`, so dropping the oldest datapoints (retention, a
-- delete from the start) moves `base` instead of renumbering every row.
-- `sealed` is the physical index where the tail starts; `tail_bytes` the tail's wire bytes, -1
-- until the upgrade has sealed a database written by an earlier version (all of it in the tail).
ALTER TABLE substreams ADD COLUMN base INTEGER NOT NULL DEFAULT 0;
ALTER TABLE substreams ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE substreams ADD COLUMN tail_bytes INTEGER NOT NULL DEFAULT -1;

-- A rowid table: chunk blobs run to kilobytes, which WITHOUT ROWID tables store poorly.
-- i1/i2 are the first and last physical index, t1/t2 the first and last timestamp, `wire` the
-- bytes of the chunk's datapoints as JSON text (stream size quotas count those).
CREATE TABLE chunks (
  id        INTEGER PRIMARY KEY,
  stream_id INTEGER NOT NULL,
  sub       INTEGER NOT NULL,
  i1        INTEGER NOT NULL,
  i2        INTEGER NOT NULL,
  t1        REAL    NOT NULL,
  t2        REAL    NOT NULL,
  wire      INTEGER NOT NULL,
  data      BLOB    NOT NULL
);
CREATE UNIQUE INDEX chunks_i ON chunks(stream_id, sub, i1);
-- Time lookups: the first chunk whose last timestamp is past t.
CREATE INDEX chunks_t ON chunks(stream_id, sub, t2, i1);
