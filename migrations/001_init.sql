-- Users, devices and streams (data-model.md §3). Names and emails of users are unique without
-- regard to case because password logins match them case-insensitively (rest-api.md §12).
CREATE TABLE users (
  id              INTEGER PRIMARY KEY,
  name            TEXT    NOT NULL,
  nickname        TEXT    NOT NULL DEFAULT '',
  email           TEXT    NOT NULL,
  description     TEXT    NOT NULL DEFAULT '',
  icon            TEXT    NOT NULL DEFAULT '',
  public          INTEGER NOT NULL DEFAULT 0,
  role            TEXT    NOT NULL,
  password        TEXT    NOT NULL,
  password_salt   TEXT    NOT NULL DEFAULT '',
  password_scheme TEXT    NOT NULL DEFAULT 'argon2id'
);
CREATE UNIQUE INDEX users_name_nocase ON users(name COLLATE NOCASE);
CREATE UNIQUE INDEX users_email_nocase ON users(email COLLATE NOCASE);

CREATE TABLE devices (
  id            INTEGER PRIMARY KEY,
  user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name          TEXT    NOT NULL,
  nickname      TEXT    NOT NULL DEFAULT '',
  description   TEXT    NOT NULL DEFAULT '',
  icon          TEXT    NOT NULL DEFAULT '',
  apikey        TEXT    NOT NULL DEFAULT '',
  enabled       INTEGER NOT NULL DEFAULT 0,
  public        INTEGER NOT NULL DEFAULT 0,
  role          TEXT    NOT NULL DEFAULT '',
  visible       INTEGER NOT NULL DEFAULT 0,
  user_editable INTEGER NOT NULL DEFAULT 0,
  UNIQUE (user_id, name)
);
-- The meta device has an empty key; empty keys never authenticate and need not be unique.
CREATE UNIQUE INDEX devices_apikey ON devices(apikey) WHERE apikey <> '';

CREATE TABLE streams (
  id          INTEGER PRIMARY KEY,
  device_id   INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  name        TEXT    NOT NULL,
  nickname    TEXT    NOT NULL DEFAULT '',
  description TEXT    NOT NULL DEFAULT '',
  icon        TEXT    NOT NULL DEFAULT '',
  schema      TEXT    NOT NULL DEFAULT '{}',
  datatype    TEXT    NOT NULL DEFAULT '',
  ephemeral   INTEGER NOT NULL DEFAULT 0,
  downlink    INTEGER NOT NULL DEFAULT 0,
  UNIQUE (device_id, name)
);

-- Per-substream summary (sub 0 = main, 1 = downlink) so length, the ordering rule and size quotas
-- cost one row read instead of a scan.
CREATE TABLE substreams (
  stream_id INTEGER NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
  sub       INTEGER NOT NULL,
  length    INTEGER NOT NULL,
  last_t    REAL    NOT NULL,
  bytes     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (stream_id, sub)
) WITHOUT ROWID;

-- One row per datapoint, clustered on (stream, substream, index): index ranges are one B-tree
-- seek plus a sequential scan, and because timestamps never decrease along the index a time
-- lookup is a binary search over the same key, so no second index slows the writes.
-- `j` is the datapoint already in its wire form ({"t":…,"d":…,"o":…} with the omit-empty rules):
-- a read sends stored text as is, and one text column per row reads three times faster than
-- separate t/d/o values. `t` is kept as a number for the time search.
-- No foreign key: checking the parent on every datapoint costs insert speed; the stream store
-- deletes data explicitly in the same transaction as the stream.
CREATE TABLE datapoints (
  stream_id INTEGER NOT NULL,
  sub       INTEGER NOT NULL,
  idx       INTEGER NOT NULL,
  t         REAL    NOT NULL,
  j         TEXT    NOT NULL,
  PRIMARY KEY (stream_id, sub, idx)
) WITHOUT ROWID;
