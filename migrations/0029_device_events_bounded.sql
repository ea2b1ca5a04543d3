-- GET /v1/devices/{mac}/events answered every event the device ever had,
-- in one body. A phone's status moves with every contact that changes it,
-- and a stranger who knows a MAC can make it change (the contract moves it
-- for /boot and /redirect alike: a /boot for a vendor the profile has no
-- URL for, then a /redirect, is two events each time), so that body had no
-- bound. Now the newest 1,000, still oldest first; the index on (mac, id)
-- is read backwards from the newest, whatever the history's length.
CREATE OR REPLACE FUNCTION ztp_device_events(p_mac macaddr, OUT status int, OUT body json)
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN d.mac IS NOT NULL THEN 200 ELSE 404 END,
        CASE WHEN d.mac IS NOT NULL
        THEN json_build_object('items', coalesce((
            SELECT json_agg(json_build_object('at', ztp_time(e.at), 'from', e.from_status, 'to', e.to_status,
                                              'cause', e.cause) ORDER BY e.id)
            FROM (SELECT * FROM device_events e WHERE e.mac = p_mac AND e.provider_id = ztp_tenant()
                                                  AND e.at >= d.created_at
                  ORDER BY e.id DESC LIMIT 1000) e), '[]'::json))
        ELSE json_build_object('detail', 'no such device') END
    FROM (SELECT NULL) one
         LEFT JOIN devices d ON d.mac = p_mac AND d.provider_id = ztp_tenant()
$$;
