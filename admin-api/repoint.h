#ifndef ZTP_REPOINT_H
#define ZTP_REPOINT_H

#include "tenant.h"

/* POST /v1/devices/repoint: every device of the caller matching all the
 * given filters gets to_profile_id, in one transaction, audited once. */
void ztp_repoint_handle(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
