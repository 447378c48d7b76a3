-- A PostgreSQL-backed event store as users commonly build one: one table, a unique
-- (stream, position), and a plpgsql function that checks the expected version under a
-- per-stream advisory lock. Expected version: -2 any, -1 no stream, N exact.
DROP TABLE IF EXISTS events;
CREATE TABLE events (
  global_position bigserial PRIMARY KEY,
  stream          text        NOT NULL,
  position        bigint      NOT NULL,
  event_id        uuid        NOT NULL UNIQUE,
  event_type      text        NOT NULL,
  data            jsonb       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream, position)
);

CREATE OR REPLACE FUNCTION append_event(p_stream text, p_expected bigint, p_id uuid,
                                        p_type text, p_data jsonb) RETURNS bigint AS $$
DECLARE
  current_version bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext(p_stream));
  SELECT coalesce(max(position), -1) INTO current_version FROM events WHERE stream = p_stream;
  IF p_expected <> -2 AND p_expected <> current_version THEN
    RAISE EXCEPTION 'wrong expected version: stream % is at %', p_stream, current_version;
  END IF;
  INSERT INTO events (stream, position, event_id, event_type, data)
  VALUES (p_stream, current_version + 1, p_id, p_type, p_data);
  RETURN current_version + 1;
END
$$ LANGUAGE plpgsql;
