-- The webhook claim of 0032 looks each provider's due deliveries up by
-- (provider_id, next_attempt_at); 0009's index on next_attempt_at alone
-- stayed for 0009's claim, kept for replicas of the version before during a
-- rolling upgrade. While the statistics showed almost no pending delivery
-- (the usual state, after a receiver was reachable for a while), PostgreSQL
-- chose the old index for every provider's probe and filtered on the
-- provider: a claim read every due delivery once per provider with
-- webhooks. A helper measured 6 s per claim with 100,000 deliveries due to
-- one receiver that was down and 1,000 providers with webhooks, every second
-- on every replica's delivery thread (221 ms here with 20,000 and 200;
-- 4 to 8 ms without the index).
DROP FUNCTION ztp_webhook_claim(int, int);
DROP INDEX webhook_deliveries_due;

-- The delivery thread limits each call by its transaction (services/
-- outbound.c): a function's SET statement_timeout never limited the call
-- (PostgreSQL arms that timer when the calling statement starts), so the
-- settings that said so go.
ALTER FUNCTION ztp_webhook_claim(int, int, int, uuid[]) RESET statement_timeout;
ALTER FUNCTION ztp_webhook_attempted(bigint, int, int, text, double precision) RESET statement_timeout;
