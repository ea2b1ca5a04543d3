#ifndef ZTP_IMPORT_HANDLER_H
#define ZTP_IMPORT_HANDLER_H

#include "tenant.h"

/* At most this many imports of one provider run at once in a process;
 * past it the answer is 429 (an import holds a worker and a connection). */
#define ZTP_IMPORT_MAX_PER_PROVIDER 2

#define ZTP_IMPORT_MAX_PARTS 10000

/* POST /v1/devices/import?dry_run=&on_conflict= with text/csv or a JSON array. */
void ztp_import_handle(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

/* PUT /v1/import-jobs/{id}/parts/{n}: a whole CSV (with its header row) or
 * JSON array, in the job's format, staged in PostgreSQL; putting part n
 * again replaces it. A part with errors is refused (422) and not kept. */
void ztp_import_part_handle(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
