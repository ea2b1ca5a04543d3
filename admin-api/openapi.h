#ifndef ZTP_OPENAPI_H
#define ZTP_OPENAPI_H

#include "../services/router.h"

/* GET /openapi.json: the OpenAPI 3.1 document compiled into ztpd. */
void ztp_openapi_get(h2o_req_t *req, const ztp_match_t *m);

#endif
