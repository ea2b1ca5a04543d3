#ifndef ZTP_ADMIN_HANDLERS_H
#define ZTP_ADMIN_HANDLERS_H

#include <stddef.h>

/* Registers every /v1 route and /openapi.json; call before the server starts. */
void ztp_admin_register(size_t max_body, size_t max_import_body);

/* Starts the provider API's background work (the import job runner). */
void ztp_admin_start(void);

/* Stops it, waiting a little: a thread still inside libpq at exit could
 * meet its libraries' destructors. */
void ztp_admin_stop(void);

#endif
