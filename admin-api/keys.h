#ifndef ZTP_KEYS_H
#define ZTP_KEYS_H

#include "tenant.h"

void ztp_keys_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_keys_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_keys_revoke(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
