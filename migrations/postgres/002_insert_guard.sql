-- The one-round-trip insert (src/storage/postgres/data.ts, insertKnown). A process that last wrote
-- a substream knows the row's state and its version (xmin) as its commit left them; its next
-- insert computes the writes from that state and sends them as one call of this function, its
-- own transaction. The call first locks the rows (in key order, like the locking path, so no
-- deadlocks) that are still at the versions given; any other row means another writer got there
-- first, and SQLSTATE CD001 rolls the whole call back untouched for the caller to redo the insert
-- through the locks. A function keeps its statements' plans for the session, so a call costs no
-- planning. Answers the row versions this transaction leaves.
CREATE FUNCTION cdb_append(
  g_s integer[], g_b smallint[], g_v text[],
  t_s integer[], t_b smallint[], t_i bigint[], t_t double precision[], t_j text[],
  c_s integer[], c_b smallint[], c_i1 bigint[], c_i2 bigint[], c_t1 double precision[], c_t2 double precision[], c_w bigint[], c_d bytea[],
  u_s integer[], u_b smallint[], u_length bigint[], u_last_t double precision[], u_bytes bigint[], u_base bigint[], u_sealed bigint[], u_tail bigint[]
) RETURNS TABLE (o_stream integer, o_sub smallint, o_v text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  locked integer;
BEGIN
  SELECT count(*) INTO locked FROM (
    SELECT 1 FROM substreams x JOIN unnest(g_s, g_b, g_v) AS k(ks, kb, kv) ON x.stream_id = k.ks AND x.sub = k.kb
     WHERE x.xmin::text = k.kv ORDER BY x.stream_id, x.sub FOR UPDATE OF x) l;
  IF locked <> coalesce(array_length(g_s, 1), 0) THEN
    RAISE EXCEPTION 'substream rows changed since this process wrote them' USING ERRCODE = 'CD001';
  END IF;
  IF coalesce(array_length(t_s, 1), 0) > 0 THEN
    INSERT INTO datapoints (stream_id, sub, idx, t, j) SELECT * FROM unnest(t_s, t_b, t_i, t_t, t_j);
  END IF;
  IF coalesce(array_length(c_s, 1), 0) > 0 THEN
    INSERT INTO chunks (stream_id, sub, i1, i2, t1, t2, wire, data) SELECT * FROM unnest(c_s, c_b, c_i1, c_i2, c_t1, c_t2, c_w, c_d);
  END IF;
  RETURN QUERY
    UPDATE substreams x SET length = k.kl, last_t = k.kt, bytes = k.kbytes, base = k.kbase, sealed = k.ksealed, tail_bytes = k.ktail
      FROM unnest(u_s, u_b, u_length, u_last_t, u_bytes, u_base, u_sealed, u_tail) AS k(ks, kb, kl, kt, kbytes, kbase, ksealed, ktail)
     WHERE x.stream_id = k.ks AND x.sub = k.kb
    RETURNING x.stream_id, x.sub, x.xmin::text;
END $$;
