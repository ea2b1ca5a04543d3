#ifndef ZTP_PROFILES_H
#define ZTP_PROFILES_H

#include <jansson.h>

#include "tenant.h"

/* Checks the fields of a profile body into errors; `partial` for PATCH
 * (nothing required). Pure. */
void ztp_profiles_validate(json_t *body, int partial, json_t *errors);

void ztp_profiles_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_profiles_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_profiles_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_profiles_update(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_profiles_delete(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
/* GET /v1/profiles/{id}/preview: what /redirect answers a given phone. */
void ztp_profiles_preview(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
