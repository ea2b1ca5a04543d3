#ifndef ZTP_IMPORT_JOBS_H
#define ZTP_IMPORT_JOBS_H

#include "tenant.h"

/* /v1/import-jobs: fleets of any size, in parts (the parts themselves:
 * ztp_import_part_handle), applied in the background by the runner. */
void ztp_import_jobs_create(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_import_jobs_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_import_jobs_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_import_jobs_start(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);
void ztp_import_jobs_cancel(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
