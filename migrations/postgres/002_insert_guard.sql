-- The guard of the one-round-trip insert (src/storage/postgres/data.ts). A process that last
-- wrote a substream knows the row's state and version (xmin) its commit left; its next insert
-- sends the locks, the writes and COMMIT at once, and this fails that message's first statement
-- when a locked row count shows another writer got there first, so the transaction rolls back
-- untouched and the insert is redone the usual way. SQLSTATE CD001 is ours.
CREATE FUNCTION cdb_expect_rows(locked bigint, wanted integer) RETURNS integer LANGUAGE plpgsql AS
  $$ BEGIN
       IF locked <> wanted THEN
         RAISE EXCEPTION 'substream rows changed since this process wrote them' USING ERRCODE = 'CD001';
       END IF;
       RETURN 0;
     END $$;
