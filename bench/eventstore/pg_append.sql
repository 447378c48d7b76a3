-- pgbench script: one single-event append (256-byte data) to one of 1,000 streams.
\set s random(0, 999)
\set n random(0, 999999999)
SELECT append_event('bench-' || :s, -2, gen_random_uuid(), 'BenchEvent',
  ('{"n":"' || lpad(:n::text, 10, '0') || '","pad":"' || repeat('x', 229) || '"}')::jsonb);
