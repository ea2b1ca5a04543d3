#ifndef ZTP_TRANSFERS_H
#define ZTP_TRANSFERS_H

#include "tenant.h"

/* /v1/transfers: a provider hands devices over to another with a one-time
 * code; the receiver accepts it with POST /v1/transfers/accept. */
void ztp_transfers_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_transfers_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_transfers_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_transfers_cancel(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_transfers_accept(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
