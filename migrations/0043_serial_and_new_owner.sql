-- Two things a contract audit found, both in what a device keeps.
--
-- The serial number a phone tells with its contact (/redirect's `sn`, or its
-- User-Agent's), which the contract says is recorded with the contact, as
-- the model is (ua_model): it was used to expand $SN in the answer and
-- then dropped. Kept beside the contact's other facts, and, like them, not
-- carried over to a new owner.
--
-- A released device claimed again by PUT kept its status_changed_at when its
-- status stayed `open` (ztp_device_put keeps the time when the status does
-- not change): the new owner read when the previous owner had claimed it,
-- earlier than the device's own created_at and first event. A new owner's
-- device now starts its status time, as it starts its contacts, in the
-- trigger every owner change goes through (0025's, restated whole).
ALTER TABLE devices ADD COLUMN ua_serial text;

CREATE OR REPLACE FUNCTION ztp_device_new_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('ztp.devices_moved', 'on', true);
    IF NEW.provider_id IS NULL THEN
        RETURN NEW; -- released: what the owner recorded stays until the next claims it
    END IF;
    NEW.contacts := 0;
    NEW.last_contact_at := NULL;
    NEW.last_contact_certified := false;
    NEW.last_addr := NULL;
    NEW.user_agent := NULL;
    NEW.ua_vendor := NULL;
    NEW.ua_model := NULL;
    NEW.ua_firmware := NULL;
    NEW.ua_serial := NULL;
    NEW.previous_status := NULL;
    NEW.status_changed_at := now();
    NEW.created_at := now();
    RETURN NEW;
END $$;
