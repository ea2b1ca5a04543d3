#include "audit.h"

#include "../services/http.h"

#include <stdlib.h>
#include <string.h>

ZTP_SQL(SQL_LIST, 2, "SELECT * FROM ztp_audit_list($1::bigint, $2::int)");

void ztp_audit_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *limit = ztp_http_query(req, "limit"), *cursor = ztp_http_query(req, "cursor");
    json_t *errors = json_array();
    char limit_text[8] = "100";

    if (limit != NULL && *limit != '\0') {
        char *end;
        long n = strtol(limit, &end, 10);
        if (*end != '\0' || n < 1 || n > 1000)
            ztp_errors_add(errors, "limit", "must be an integer from 1 to 1000");
        else
            snprintf(limit_text, sizeof(limit_text), "%ld", n);
    }
    if (cursor != NULL && (*cursor == '\0' || strlen(cursor) > 18 || strspn(cursor, "0123456789") != strlen(cursor)))
        ztp_errors_add(errors, "cursor", "is not a cursor this API returned");
    if (ztp_errors_answer(req, errors))
        return;
    const char *p[2] = {cursor, limit_text};
    ztp_tenant_call(req, who, &SQL_LIST, p, NULL, NULL);
}
