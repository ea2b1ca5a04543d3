/* tools/ztp-phone/vendor.c: the phone reads what /boot renders, as the
 * vendor's phone would, and nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../redirect/bootcfg.h"
#include "../../services/buf.h"
#include "../../tools/ztp-phone/vendor.h"

static const ztp_phone_id_t id = {"0015654aa937", "M1", "28.72.0.1", "", 0};

/* What /boot renders for vendor v with url, as read back by the phone. */
static int round_trip(ztp_vendor_t v, int poly_ztp, const char *url, ztp_first_answer_t *a)
{
    ztp_buf_t b = {0};
    ztp_bootcfg_facts_t f = {id.mac, url};
    ztp_bootcfg_render(&b, v, poly_ztp, &f);
    int rc = ztp_phone_read_first(v, "https://ztp.example/boot/0015654AA937.cfg", b.p, b.len, &id, a);
    ztp_buf_free(&b);
    return rc;
}

static void reads_each_vendors_answer_back(void **state)
{
    static const struct {
        ztp_vendor_t v;
        const char *url, *provisioning, *next;
    } cases[] = {
        {ZTP_VENDOR_YEALINK, "https://p.example/y/", "https://p.example/y/",
         "https://p.example/y/0015654aa937.boot"},
        {ZTP_VENDOR_YEALINK, "https://p.example/y/a.cfg", "https://p.example/y/a.cfg",
         "https://p.example/y/a.cfg"},
        {ZTP_VENDOR_POLY, "https://p.example/poly", "https://p.example/poly",
         "https://p.example/poly/0015654AA937.cfg"},
        {ZTP_VENDOR_SNOM, "http://p.example/s/{mac}.xml", "http://p.example/s/{mac}.xml",
         "http://p.example/s/0015654aa937.xml"},
        {ZTP_VENDOR_GRANDSTREAM, "https://p.example:8443/gs", "https://p.example:8443/gs",
         "https://p.example:8443/gs/cfg0015654aa937"},
        {ZTP_VENDOR_FANVIL, "http://p.example/f/x.cfg", "http://p.example/f/x.cfg",
         "http://p.example/f/x.cfg"},
        {ZTP_VENDOR_FANVIL, "https://p.example/f/", "https://p.example/f/",
         "https://p.example/f/0015654aa937.cfg"},
        {ZTP_VENDOR_GIGASET, "https://p.example/g/%MACD.xml", "https://p.example/g/%MACD.xml",
         "https://p.example/g/0015654AA937.xml"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ztp_first_answer_t a;
        assert_int_equal(round_trip(cases[i].v, 1, cases[i].url, &a), 0);
        assert_string_equal(a.provisioning_url, cases[i].provisioning);
        assert_string_equal(a.next_url, cases[i].next);
        ztp_first_answer_free(&a);
    }
}

static void poly_master_leads_to_the_file_it_names(void **state)
{
    ztp_first_answer_t a;
    assert_int_equal(round_trip(ZTP_VENDOR_POLY, 0, "https://p.example/", &a), 0);
    assert_null(a.provisioning_url);
    assert_string_equal(a.next_url, "https://ztp.example/boot/0015654AA937-ztp.cfg");
    ztp_first_answer_free(&a);
    /* 000000000000.cfg's master names the file by the phone's MAC macro */
    static const char any[] = "<APPLICATION CONFIG_FILES=\"[PHONE_MAC_ADDRESS]-ztp.cfg, x.cfg\"/>";
    assert_int_equal(ztp_phone_read_first(ZTP_VENDOR_POLY, "https://ztp.example/boot/000000000000.cfg", any,
                                          sizeof(any) - 1, &id, &a),
                     0);
    assert_string_equal(a.next_url, "https://ztp.example/boot/0015654aa937-ztp.cfg");
    ztp_first_answer_free(&a);
}

static void refuses_what_is_not_the_vendors_answer(void **state)
{
    static const struct {
        ztp_vendor_t v;
        const char *body;
    } cases[] = {
        {ZTP_VENDOR_YEALINK, "static.auto_provision.server.url = http://x/\n"}, /* no version line */
        {ZTP_VENDOR_YEALINK, "#!version:1.0.0.1\nstatic.auto_provision.server.url =\n"},
        {ZTP_VENDOR_FANVIL, "<<VOIP CONFIG FILE>>\nDownload Server IP :h\nConfig File Name :f\n"},
        {ZTP_VENDOR_FANVIL, "<<VOIP CONFIG FILE>>\nDownload Server IP :h\nConfig File Name :f\nDownload "
                            "Protocol :1\n"}, /* TFTP */
        {ZTP_VENDOR_POLY, "<PHONE_CONFIG><ALL device.prov.serverName=\"h\" device.prov.serverType=\"FTP\"/>"
                          "</PHONE_CONFIG>"},
        {ZTP_VENDOR_POLY, "<APPLICATION CONFIG_FILES=\"\"/>"},
        {ZTP_VENDOR_SNOM, "<settings><phone-settings><setting_server>http://x/"}, /* not well-formed */
        {ZTP_VENDOR_GRANDSTREAM,
         "<gs_provision><config><P212>0</P212><P237>h</P237></config></gs_provision>"},
        {ZTP_VENDOR_GIGASET, "<provisioning><param name=\"Other\" value=\"http://x/\"/></provisioning>"},
        {ZTP_VENDOR_SNOM, ""},
        {ZTP_VENDOR_CISCO, "<flat-profile/>"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ztp_first_answer_t a;
        if (ztp_phone_read_first(cases[i].v, "http://h/boot/f", cases[i].body, strlen(cases[i].body), &id,
                                 &a) == 0)
            fail_msg("case %zu was read: %s", i, a.next_url);
    }
}

/* A hostile server's answers: a value made huge by an entity (expat allows
 * 100 times the document), a plain value too long for a phone, and an empty
 * element after a full one (its value is empty, not the other's). */
static void refuses_values_no_phone_would_hold(void **state)
{
    ztp_first_answer_t a;
    ztp_buf_t b = {0};
    ztp_buf_puts(&b, "<!DOCTYPE s [<!ENTITY e \"");
    for (int i = 0; i < 290; i++)
        ztp_buf_puts(&b, "x");
    ztp_buf_puts(&b, "\">]><settings><phone-settings><setting_server>http://h/");
    for (int i = 0; i < 100; i++)
        ztp_buf_puts(&b, "&e;");
    ztp_buf_puts(&b, "</setting_server></phone-settings></settings>");
    assert_int_equal(ztp_phone_read_first(ZTP_VENDOR_SNOM, "http://h/boot/f", b.p, b.len, &id, &a), -1);
    ztp_buf_free(&b);
    ztp_buf_puts(&b, "#!version:1.0.0.1\nstatic.auto_provision.server.url = http://h/");
    for (int i = 0; i < 5000; i++)
        ztp_buf_puts(&b, "a");
    ztp_buf_puts(&b, "\n");
    assert_int_equal(ztp_phone_read_first(ZTP_VENDOR_YEALINK, "http://h/boot/f", b.p, b.len, &id, &a), -1);
    ztp_buf_free(&b);
    const char *gs = "<gs_provision><config><P212>2</P212><P237></P237></config></gs_provision>";
    if (ztp_phone_read_first(ZTP_VENDOR_GRANDSTREAM, "http://h/boot/f", gs, strlen(gs), &id, &a) == 0) {
        assert_null(strstr(a.provisioning_url, "2"));
        ztp_first_answer_free(&a);
    }
}

static void user_agents_read_back_as_their_vendor(void **state)
{
    for (int v = 0; v < ZTP_VENDOR_COUNT; v++) {
        const char *model, *firmware;
        char text[256];
        ztp_ua_t ua;
        ztp_phone_vendor_defaults((ztp_vendor_t)v, &model, &firmware);
        ztp_phone_id_t p = {"0015654aa937", model, firmware, "", 0};
        ztp_phone_user_agent((ztp_vendor_t)v, &p, text, sizeof(text));
        ztp_ua_parse(text, strlen(text), &ua);
        assert_string_equal(ua.vendor, ztp_vendor_name((ztp_vendor_t)v));
        assert_string_equal(ua.model, model);
        assert_string_equal(ua.firmware, firmware);
        if (v != ZTP_VENDOR_POLY) /* Poly's tells no MAC */
            assert_string_equal(ua.mac, "0015654aa937");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_each_vendors_answer_back),
        cmocka_unit_test(poly_master_leads_to_the_file_it_names),
        cmocka_unit_test(refuses_what_is_not_the_vendors_answer),
        cmocka_unit_test(refuses_values_no_phone_would_hold),
        cmocka_unit_test(user_agents_read_back_as_their_vendor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
