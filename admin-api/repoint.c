/* POST /v1/devices/repoint: one profile for many devices, set-based. */
#include "repoint.h"

#include "../redirect/status.h"
#include "../services/buf.h"
#include "../services/http.h"
#include "maclist.h"

#include <string.h>

/* A million devices is one UPDATE: about 35 s on an idle 2-core machine
 * (13 us a row of it the profile foreign-key check), minutes on a loaded one. */
#define REPOINT_TIMEOUT_MS 600000

ZTP_SQL(SQL_REPOINT, 5, "SELECT * FROM ztp_devices_repoint($1::uuid, $2::uuid, $3, $4, $5::boolean)");

/* The profile id in body's `name`, or NULL when absent or null; adds an error when malformed. */
static const char *profile_field(json_t *body, const char *name, int required, json_t *errors)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL || json_is_null(v)) {
        if (required)
            ztp_errors_add(errors, name, "is required: a profile id");
        return NULL;
    }
    if (!json_is_string(v) || !ztp_uuid_ok(json_string_value(v), json_string_length(v))) {
        ztp_errors_add(errors, name, "must be a profile id");
        return NULL;
    }
    return json_string_value(v);
}

void ztp_repoint_handle(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    json_t *body = ztp_json_body(req, 0), *errors, *v;
    const char *to, *from, *status = NULL, *dry_run = "false";
    ztp_buf_t macs = {0};
    int have_macs = 0;

    if (body == NULL)
        return;
    errors = json_array();
    to = profile_field(body, "to_profile_id", 1, errors);
    from = profile_field(body, "from_profile_id", 0, errors);
    v = json_object_get(body, "status");
    if (v != NULL && !json_is_null(v)) {
        status = json_string_value(v);
        if (status == NULL || ztp_status_from_name(status) == ZTP_STATUS_NONE)
            ztp_errors_add(errors, "status",
                           "must be one of open, pending, custom_pending, acquired, aborted, unavailable");
    }
    v = json_object_get(body, "macs");
    if (v != NULL && !json_is_null(v)) {
        have_macs = 1;
        ztp_maclist_read(body, "macs", 0, 0, &macs, errors);
    }
    v = json_object_get(body, "dry_run");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_boolean(v))
            ztp_errors_add(errors, "dry_run", "must be true or false");
        else if (json_is_true(v))
            dry_run = "true";
    }
    if (!ztp_errors_answer(req, errors)) {
        const char *p[5] = {to, from, status, have_macs ? (macs.p ? macs.p : "") : NULL, dry_run};
        ztp_tenant_call_timeout(req, who, &SQL_REPOINT, p, NULL, NULL, REPOINT_TIMEOUT_MS);
    }
    ztp_buf_free(&macs);
    json_decref(body);
}
