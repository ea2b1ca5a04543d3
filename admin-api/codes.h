#ifndef ZTP_CODES_H
#define ZTP_CODES_H

#include "tenant.h"

void ztp_codes_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_codes_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_codes_revoke(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
