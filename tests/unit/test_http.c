/* services/http.c: the client's address behind trusted proxies, and form/query decoding */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "../../services/config.h"
#include "../../services/http.h"

static struct sockaddr_in peer_addr;

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    memcpy(sa, &peer_addr, sizeof(peer_addr));
    return sizeof(peer_addr);
}

static const h2o_conn_callbacks_t callbacks = {.get_peername = get_peername};

/* The client ztp_http_client_addr finds for a request from peer carrying
 * the given X-Forwarded-For lines (NULL-terminated). */
static const char *client_of(const char *peer, const char *const *lines)
{
    static char out[64];
    h2o_conn_t conn = {.callbacks = &callbacks};
    h2o_req_t req;
    unsigned char bin[16];

    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    req.conn = &conn;
    peer_addr.sin_family = AF_INET;
    inet_pton(AF_INET, peer, &peer_addr.sin_addr);
    for (; lines != NULL && *lines != NULL; lines++)
        h2o_add_header(&req.pool, &req.headers, H2O_TOKEN_X_FORWARDED_FOR, NULL, *lines, strlen(*lines));
    if (ztp_http_client_addr(&req, out, sizeof(out), bin) != 0)
        strcpy(out, "error");
    h2o_mem_clear_pool(&req.pool);
    return out;
}

static int setup(void **state)
{
    char err[256];
    setenv("DATABASE_URL", "postgresql:///unused", 1);
    setenv("ZTP_TRUSTED_PROXIES", "127.29.0.1,10.0.0.0/8,2001:db8:ff::/48", 1);
    return ztp_config_load(&ztp_config, 0, err, sizeof(err));
}

/* q-values and case were ignored: "application/json;q=0, application/xml"
 * got JSON, "APPLICATION/JSON" XML. */
static void accept_chooses_json_or_xml_by_q(void **state)
{
    static const struct {
        const char *accept;
        int json;
    } cases[] = {{"application/json", 1},
                 {"APPLICATION/JSON", 1},
                 {"application/xml", 0},
                 {"text/xml", 0},
                 {"application/json;q=0, application/xml", 0},
                 {"application/json; q=0.5, application/xml; q=0.9", 0},
                 {"application/xml;q=0.2, application/json", 1},
                 {"application/json, application/xml", 1},
                 {"application/xml, application/json", 0},
                 {"*/*", 0},
                 {"text/html", 0},
                 {"", 0},
                 {"application/json;q=0", 0},
                 {"application/json;q=", 0},
                 {";;;,,, /xml", 0},
                 {"application/jsonx", 0},
                 {"application/atom+xml;q=0.1, application/json;q=0.05", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (ztp_http_accept_json(cases[i].accept, 0) != cases[i].json)
            fail_msg("%s: %d", cases[i].accept, !cases[i].json);
    assert_int_equal(ztp_http_accept_json("text/html", 1), 1); /* neither named: the default */
    assert_int_equal(ztp_http_accept_json("application/json;q=0", 1), 1);
}

/* Some load balancers write a port: "IP:port" was malformed, so the proxy
 * became the client, and every client behind it shared one limit. */
static void forwarded_addresses_with_ports_are_read(void **state)
{
    static const struct {
        const char *line, *client;
    } cases[] = {{"203.0.113.6:51234", "203.0.113.6"}, {"[2001:db8::6]:443", "2001:db8::6"},
                 {"[2001:db8::7]", "2001:db8::7"},     {"203.0.113.8:51234, 10.0.0.9:80", "203.0.113.8"},
                 {"203.0.113.9:", "127.29.0.1"},       /* malformed: the proxy */
                 {"203.0.113.9:123456", "127.29.0.1"}, /* not a port */
                 {"[2001:db8::6]x", "127.29.0.1"},     /* nor this */
                 {"[2001:db8::6", "127.29.0.1"},       {"[]:80", "127.29.0.1"},
                 {"2001:db8::5", "2001:db8::5"}, /* an IPv6 address is not an address and a port */
                 {"::ffff:203.0.113.5", "203.0.113.5"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *lines[] = {cases[i].line, NULL};
        const char *got = client_of("127.29.0.1", lines);
        if (strcmp(got, cases[i].client) != 0)
            fail_msg("%s: %s, not %s", cases[i].line, got, cases[i].client);
    }
}

static void an_untrusted_peer_is_the_client_whatever_it_forwards(void **state)
{
    const char *lines[] = {"203.0.113.5", NULL};
    assert_string_equal(client_of("127.1.2.3", lines), "127.1.2.3");
}

static void the_rightmost_untrusted_address_is_the_client(void **state)
{
    const char *one[] = {"192.0.2.1, 203.0.113.5, 10.0.0.9", NULL};
    assert_string_equal(client_of("127.29.0.1", one), "203.0.113.5");
    const char *spaced[] = {" 192.0.2.1 ,203.0.113.6 , 10.1.2.3 ", NULL};
    assert_string_equal(client_of("127.29.0.1", spaced), "203.0.113.6");
    const char *v6[] = {"2001:db8:1::7, 2001:db8:ff:1::2", NULL};
    assert_string_equal(client_of("127.29.0.1", v6), "2001:db8:1::7");
}

static void every_header_line_is_read_in_order(void **state)
{
    /* the client's own line first, then the one its proxy added */
    const char *two[] = {"192.0.2.77", "203.0.113.5, 10.0.0.9", NULL};
    assert_string_equal(client_of("127.29.0.1", two), "203.0.113.5");
    const char *trusted_last[] = {"192.0.2.77, 203.0.113.8", "10.0.0.9", NULL};
    assert_string_equal(client_of("127.29.0.1", trusted_last), "203.0.113.8");
}

static void the_proxies_lines_count_however_many_come_before(void **state)
{
    const char *lines[81];
    for (int i = 0; i < 78; i++)
        lines[i] = "192.0.2.1";
    lines[78] = "203.0.113.9";
    lines[79] = "10.0.0.9";
    lines[80] = NULL;
    assert_string_equal(client_of("127.29.0.1", lines), "203.0.113.9");
}

static void a_malformed_element_stops_the_walk(void **state)
{
    const char *bad[] = {"203.0.113.5, unknown, 10.0.0.9", NULL};
    assert_string_equal(client_of("127.29.0.1", bad), "10.0.0.9");
    const char *empty[] = {"", NULL};
    assert_string_equal(client_of("127.29.0.1", empty), "127.29.0.1");
    const char *all_trusted[] = {"10.0.0.1, 10.0.0.2", NULL};
    assert_string_equal(client_of("127.29.0.1", all_trusted), "10.0.0.1");
}

static void form_values_are_percent_decoded(void **state)
{
    h2o_mem_pool_t pool;
    const char *v;
    static const char form[] = "a=1&code=%23+42&mac=00%3A56&bad=%zz&nul=%00";
    h2o_mem_init_pool(&pool);
    assert_int_equal(ztp_http_form_get(&pool, form, strlen(form), "code", &v), 0);
    assert_string_equal(v, "# 42");
    assert_int_equal(ztp_http_form_get(&pool, form, strlen(form), "mac", &v), 0);
    assert_string_equal(v, "00:56");
    assert_int_equal(ztp_http_form_get(&pool, form, strlen(form), "missing", &v), 0);
    assert_null(v);
    assert_int_equal(ztp_http_form_get(&pool, form, strlen(form), "bad", &v), -1);
    assert_int_equal(ztp_http_form_get(&pool, form, strlen(form), "nul", &v), -1);
    h2o_mem_clear_pool(&pool);
}

static void a_form_is_well_formed_only_if_every_escape_is(void **state)
{
    static const char *good[] = {"",         "a=1",     "code=%23+42&mac=00%3a56", "x=%FF", "%41=b",
                                 "a=%25%25", "plain%20"};
    static const char *bad[] = {"dry_run=true%", "a=%2", "a=%zz",  "a=%0g",
                                "a=1&b=%00",     "%",    "a=%%41", "q=%x1"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        assert_true(ztp_http_form_ok(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        assert_false(ztp_http_form_ok(bad[i], strlen(bad[i])));
    /* the length bounds the text: an escape cut by it is malformed */
    assert_false(ztp_http_form_ok("a=%41", 4));
    assert_true(ztp_http_form_ok("a=%41&", 5));
    assert_false(ztp_http_form_ok("a=b\0c", 5)); /* raw, as the fuzzer found: the decoder refuses it too */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_chooses_json_or_xml_by_q),
        cmocka_unit_test(forwarded_addresses_with_ports_are_read),
        cmocka_unit_test(an_untrusted_peer_is_the_client_whatever_it_forwards),
        cmocka_unit_test(the_rightmost_untrusted_address_is_the_client),
        cmocka_unit_test(every_header_line_is_read_in_order),
        cmocka_unit_test(the_proxies_lines_count_however_many_come_before),
        cmocka_unit_test(a_malformed_element_stops_the_walk),
        cmocka_unit_test(form_values_are_percent_decoded),
        cmocka_unit_test(a_form_is_well_formed_only_if_every_escape_is),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
