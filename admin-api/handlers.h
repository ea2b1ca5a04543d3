#ifndef ZTP_ADMIN_HANDLERS_H
#define ZTP_ADMIN_HANDLERS_H

#include <stddef.h>

/* Registers every /v1 route and /openapi.json; call before the server starts. */
void ztp_admin_register(size_t max_body, size_t max_import_body);

/* Starts the provider API's background work (the import job runner). */
void ztp_admin_start(void);

#endif
