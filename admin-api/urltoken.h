#ifndef ZTP_URLTOKEN_H
#define ZTP_URLTOKEN_H

#include "tenant.h"

/* GET /v1/url-token-key: the provider's URL token key and the one before it. */
void ztp_urltoken_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

/* POST /v1/url-token-key: a new key (201); the old one becomes previous_key. */
void ztp_urltoken_rotate(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
