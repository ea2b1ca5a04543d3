/*
 * /v1/url-token-key: the key of the per-device tokens that replace
 * $(ZTP_TOKEN) in a provider's answers (redirect/profile.c computes them).
 * The key is made by the database (migrations/0006) and never logged.
 */
#include "urltoken.h"

ZTP_SQL(SQL_GET, 0, "SELECT * FROM ztp_url_token_get()");
ZTP_SQL(SQL_ROTATE, 0, "SELECT * FROM ztp_url_token_rotate()");

void ztp_urltoken_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    ztp_tenant_call(req, who, &SQL_GET, NULL, NULL, NULL);
}

void ztp_urltoken_rotate(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    ztp_tenant_call(req, who, &SQL_ROTATE, NULL, NULL, NULL);
}
