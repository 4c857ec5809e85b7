-- Retention per stream (issue 11): keep at most keep_datapoints datapoints and/or only those
-- newer than keep_seconds; 0 = no limit (the config's `retention` applies to streams without one).
ALTER TABLE streams ADD COLUMN keep_datapoints INTEGER NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN keep_seconds REAL NOT NULL DEFAULT 0;
