-- API keys are looked up by their SHA-256 so the B-tree comparison during the lookup leaks nothing
-- about the key itself; the key is then compared in constant time (rest-api.md §2).
ALTER TABLE devices ADD COLUMN apikey_hash TEXT NOT NULL DEFAULT '';
CREATE INDEX devices_apikey_hash ON devices(apikey_hash) WHERE apikey_hash <> '';
