#ifndef ZTP_WEBHOOKS_H
#define ZTP_WEBHOOKS_H

#include "tenant.h"

/* /v1/webhooks: a provider's receivers of events; the signing secret is
 * shown once, at creation, and kept sealed under ZTP_SECRET. */
void ztp_webhooks_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_webhooks_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_webhooks_delete(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_webhooks_deliveries(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
