#include "openapi.h"

#include "../services/http.h"

#include <string.h>

/* admin-api/openapi.json, compiled in so the binary describes itself. */
__asm__(".section .rodata\n.global ztp_openapi_json\nztp_openapi_json:\n.incbin \"admin-api/openapi.json\"\n"
        ".byte 0\n.previous");
extern const char ztp_openapi_json[];

void ztp_openapi_get(h2o_req_t *req, const ztp_match_t *m)
{
    (void)m;
    ztp_http_send(req, 200, "application/json", ztp_openapi_json, strlen(ztp_openapi_json));
}
