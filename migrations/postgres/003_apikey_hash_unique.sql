-- A device's key is unique through its hash (storage/apikey.ts), not the key itself: a B-tree
-- entry holds at most about 2.7 KB, and clients may choose their devices' keys, so a long random
-- key failed its insert with an internal error. The hash has a fixed length, and lookups use it
-- already. Empty keys (the meta device's) have an empty hash and stay out of the index.
DROP INDEX devices_apikey;
DROP INDEX devices_apikey_hash;
CREATE UNIQUE INDEX devices_apikey_hash ON devices (apikey_hash) WHERE apikey_hash <> '';
