#include "audit.h"

#include "../services/http.h"
#include "../services/log.h"
#include "../services/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ztp_audit_list's body ends with its next_cursor: null, or the last row's
 * id as a string of digits. */
ZTP_SQL(SQL_LIST, 2, "SELECT * FROM ztp_audit_list($1::bigint, $2::int)");

#define CURSOR_KEY "\"next_cursor\" : "

typedef struct page {
    char provider_id[40];
} page_t;

/* The audit rows' ids are one sequence for every provider: the cursor
 * leaves as a sealed position (secret.h), so that paging one's own trail
 * does not count the entries other providers wrote in between. */
static void on_page(h2o_req_t *req, int status, const char *body, void *arg)
{
    page_t *p = arg;
    size_t len = body != NULL ? strlen(body) : 0, klen = strlen(CURSOR_KEY), d;
    char sealed[ZTP_CURSOR_LEN + 1], *out;

    if (status != 200 || body == NULL || (len >= 5 && strcmp(body + len - 5, "null}") == 0)) {
        ztp_tenant_answer(req, status, body);
        return;
    }
    /* the tail is `"next_cursor" : "<digits>"}`: d, where the digits start */
    for (d = len >= 2 ? len - 2 : 0; d > 0 && body[d - 1] >= '0' && body[d - 1] <= '9'; d--)
        ;
    if (len < 2 || strcmp(body + len - 2, "\"}") != 0 || d == len - 2 || d < klen + 1 ||
        body[d - 1] != '"' || memcmp(body + d - 1 - klen, CURSOR_KEY, klen) != 0 ||
        ztp_secret_cursor_seal(p->provider_id, strtoull(body + d, NULL, 10), sealed) != 0) {
        ztp_log_error("the audit page's cursor is not where it should be");
        ztp_http_problem(req, 500, "internal error");
        return;
    }
    out = h2o_mem_alloc_pool(&req->pool, d + sizeof(sealed) + 2);
    memcpy(out, body, d);
    snprintf(out + d, sizeof(sealed) + 2, "%s\"}", sealed);
    ztp_tenant_answer(req, status, out);
}

void ztp_audit_list(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    const char *cursor = ztp_http_query(req, "cursor");
    json_t *errors = json_array();
    char limit_text[8], after[24];
    unsigned long long pos;
    page_t *p;

    ztp_query_limit(req, errors, limit_text);
    if (cursor != NULL && ztp_secret_cursor_open(who->provider_id, cursor, &pos) != 0)
        ztp_errors_add(errors, "cursor", "is not a cursor this API returned");
    if (ztp_errors_answer(req, errors))
        return;
    if (cursor != NULL)
        snprintf(after, sizeof(after), "%llu", pos);
    if ((p = malloc(sizeof(*p))) == NULL)
        abort();
    snprintf(p->provider_id, sizeof(p->provider_id), "%s", who->provider_id);
    const char *params[2] = {cursor != NULL ? after : NULL, limit_text};
    ztp_tenant_call(req, who, &SQL_LIST, params, on_page, p);
}
