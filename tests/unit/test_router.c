/* services/router.c: which route a path reaches and what its {params} hold,
 * the last "{*name}" segment (rest of the path) included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../services/router.h"

static char got[256]; /* "route|param|param" of the last dispatch */

static void on_route(h2o_req_t *req, const ztp_match_t *m)
{
    int n = snprintf(got, sizeof(got), "%s", (const char *)m->data);
    for (int i = 0; i < m->nparams; i++)
        n += snprintf(got + n, sizeof(got) - (size_t)n, "|%.*s", (int)m->params[i].len, m->params[i].base);
}

/* What GET path reaches: a route's name and its params. The catch-all
 * registered last stands for "no route" (a real 404 needs a connection). */
static const char *dispatch(const char *path)
{
    h2o_req_t req;
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    req.method = h2o_iovec_init(H2O_STRLIT("GET"));
    req.path = h2o_iovec_init(path, strlen(path));
    const char *q = strchr(path, '?');
    req.query_at = q ? (size_t)(q - path) : SIZE_MAX;
    got[0] = '\0';
    ztp_router_on_req(NULL, &req);
    h2o_mem_clear_pool(&req.pool);
    return got;
}

static int setup(void **state)
{
    ztp_router_add("GET", "/console", on_route, 0, "index");
    ztp_router_add("GET", "/console/a/{hash}/{*file}", on_route, 0, "asset");
    ztp_router_add("GET", "/v1/devices/{mac}/events", on_route, 0, "events");
    ztp_router_add("GET", "/v1/devices/{mac}", on_route, 0, "device");
    ztp_router_add("GET", "/{*rest}", on_route, 0, "none");
    return 0;
}

static void fixed_segments_match_with_or_without_a_trailing_slash(void **state)
{
    assert_string_equal(dispatch("/console"), "index");
    assert_string_equal(dispatch("/console/"), "index");
    assert_string_equal(dispatch("/console?x=1"), "index");
    assert_string_equal(dispatch("/consolex"), "none|consolex");
    assert_string_equal(dispatch("/console//"), "none|console//");
}

static void a_param_is_one_nonempty_segment(void **state)
{
    assert_string_equal(dispatch("/v1/devices/0004f2aabbcc"), "device|0004f2aabbcc");
    assert_string_equal(dispatch("/v1/devices/0004f2aabbcc/events"), "events|0004f2aabbcc");
    assert_string_equal(dispatch("/v1/devices/a/b"), "none|v1/devices/a/b");
    assert_string_equal(dispatch("/v1/devices//events"), "none|v1/devices//events");
}

static void the_rest_segment_takes_slashes_and_raw_bytes(void **state)
{
    assert_string_equal(dispatch("/console/a/0123/app.js"), "asset|0123|app.js");
    assert_string_equal(dispatch("/console/a/0123/pages/x.js?v=2"), "asset|0123|pages/x.js");
    assert_string_equal(dispatch("/console/a/0123/../../x"), "asset|0123|../../x");
    assert_string_equal(dispatch("/console/a/0123/%2e%2e/x"), "asset|0123|%2e%2e/x");
}

static void the_rest_segment_is_never_empty(void **state)
{
    assert_string_equal(dispatch("/console/a/0123/"), "none|console/a/0123/");
    assert_string_equal(dispatch("/console/a/0123"), "none|console/a/0123");
    assert_string_equal(dispatch("/console/a//app.js"), "none|console/a//app.js");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_segments_match_with_or_without_a_trailing_slash),
        cmocka_unit_test(a_param_is_one_nonempty_segment),
        cmocka_unit_test(the_rest_segment_takes_slashes_and_raw_bytes),
        cmocka_unit_test(the_rest_segment_is_never_empty),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
