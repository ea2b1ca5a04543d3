#ifndef ZTP_DEVICES_H
#define ZTP_DEVICES_H

#include "tenant.h"

/* Checks a device body's profile_id, model and serial into errors. Pure. */
void ztp_devices_validate(json_t *body, json_t *errors);

void ztp_devices_put(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_devices_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_devices_delete(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_devices_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_devices_events(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_devices_report(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
