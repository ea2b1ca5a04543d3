#include "audit.h"

#include "../services/http.h"

#include <stdlib.h>
#include <string.h>

ZTP_SQL(SQL_LIST, 2, "SELECT * FROM ztp_audit_list($1::bigint, $2::int)");

void ztp_audit_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *cursor = ztp_http_query(req, "cursor");
    json_t *errors = json_array();
    char limit_text[8];

    ztp_query_limit(req, errors, limit_text);
    if (cursor != NULL &&
        (*cursor == '\0' || strlen(cursor) > 18 || strspn(cursor, "0123456789") != strlen(cursor)))
        ztp_errors_add(errors, "cursor", "is not a cursor this API returned");
    if (ztp_errors_answer(req, errors))
        return;
    const char *p[2] = {cursor, limit_text};
    ztp_tenant_call(req, who, &SQL_LIST, p, NULL, NULL);
}
