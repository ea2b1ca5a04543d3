-- How many events a device's contacts have added, so that the contact batch
-- (redirect/contacts.c) trims its history after every 100th: a count of its
-- own, which no stranger can steer (a trim by the events' shared ids could be
-- dodged by interleaving two devices). A fast default: no rewrite; no index:
-- contacts stay HOT updates.
ALTER TABLE devices ADD COLUMN contact_events bigint NOT NULL DEFAULT 0;
