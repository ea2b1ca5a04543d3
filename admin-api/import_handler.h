#ifndef ZTP_IMPORT_HANDLER_H
#define ZTP_IMPORT_HANDLER_H

#include "tenant.h"

/* At most this many imports of one provider run at once in a process;
 * past it the answer is 429 (an import holds a worker and a connection). */
#define ZTP_IMPORT_MAX_PER_PROVIDER 2

/* POST /v1/devices/import?dry_run=&on_conflict= with text/csv or a JSON array. */
void ztp_import_handle(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
