#ifndef ZTP_AUDIT_H
#define ZTP_AUDIT_H

#include "tenant.h"

/* GET /v1/audit-events?limit=&cursor= : oldest first. */
void ztp_audit_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
