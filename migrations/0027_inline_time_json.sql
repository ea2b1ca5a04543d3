-- Two helpers every device, event and webhook body goes through were
-- declared IMMUTABLE around STABLE functions (to_char of a timestamp,
-- to_json): PostgreSQL inlines an SQL function only when its body is no
-- more volatile than its declaration, so each call ran as a function call
-- of its own, its query planned again at each call from PL/pgSQL (a
-- webhook-heavy replay showed 573 plans for 573 calls of ztp_time).
-- Declared STABLE, which is what they are, both are inlined into the
-- expression that calls them: 100,000 devices rendered by ztp_device_json
-- 2.56-2.60 s -> 1.51-1.60 s, the same bytes (EXPLAIN VERBOSE shows to_char
-- in place of the calls). Neither is used by an index or a constraint.
ALTER FUNCTION ztp_time(timestamptz) STABLE;
ALTER FUNCTION ztp_json_with(json, text, json) STABLE;
