-- code.redeemed, one statement per batch of redemptions.
--
-- 0009 emitted the event from a row trigger: one call of the outbox's
-- function per redeemed code, even for providers without a webhook. A
-- batch of redemptions (0017) redeems its codes in one UPDATE; this
-- statement trigger emits their events at once, like the devices' and the
-- events' triggers. The filter on the (small) webhooks table keeps
-- providers without webhooks free; events keep the order of the codes'
-- ids within a statement.
DROP TRIGGER activation_codes_webhooks ON activation_codes;
DROP FUNCTION ztp_trg_code_redeemed();

CREATE FUNCTION ztp_trg_codes_redeemed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM ztp_webhook_emit_many('code.redeemed', array_agg(n.provider_id ORDER BY n.id),
        array_agg(jsonb_build_object('code_id', n.id, 'last4', n.last4, 'mac', ztp_mac_text(n.redeemed_by),
                                     'profile_id', n.profile_id) ORDER BY n.id))
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.redeemed_at IS NULL AND n.redeemed_at IS NOT NULL
      AND n.provider_id IN (SELECT w.provider_id FROM webhooks w WHERE 'code.redeemed' = ANY (w.events))
    HAVING count(*) > 0;
    RETURN NULL;
END $$;
ALTER FUNCTION ztp_trg_codes_redeemed() OWNER TO ztp_system;
CREATE TRIGGER activation_codes_webhooks AFTER UPDATE ON activation_codes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION ztp_trg_codes_redeemed();
