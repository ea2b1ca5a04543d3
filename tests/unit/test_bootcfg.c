/* redirect/bootcfg.c: each vendor's answer against its golden file
 * (tests/unit/golden/boot/), with a plain URL and a hostile one.
 * ZTP_GOLDEN_UPDATE=1 rewrites the golden files from the renderers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../redirect/bootcfg.h"

static char golden_dir[PATH_MAX];

#define PLAIN "https://prov.acme.example:8443/phones/$MA/"
/* everything a format could misread: quotes, markup, separators, line
 * breaks, a control character, bytes past ASCII, credentials in the URL */
#define HOSTILE "http://user:pa%ss@h.example/a b\"c'd<e>f&g\\h`\r\nstatic.x = 1\n<</x>]]>\x01\xc3\xa9/f.cfg"

static const struct {
    ztp_vendor_t vendor;
    int poly_ztp;
    const char *name;
} answers[] = {
    {ZTP_VENDOR_YEALINK, 0, "yealink"},         {ZTP_VENDOR_POLY, 0, "poly-master"},
    {ZTP_VENDOR_POLY, 1, "poly-ztp"},           {ZTP_VENDOR_SNOM, 0, "snom"},
    {ZTP_VENDOR_GRANDSTREAM, 0, "grandstream"}, {ZTP_VENDOR_FANVIL, 0, "fanvil"},
    {ZTP_VENDOR_GIGASET, 0, "gigaset"},
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *p;
    long n;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    p = malloc((size_t)n + 1);
    *len = fread(p, 1, (size_t)n, f);
    p[*len] = '\0';
    fclose(f);
    return p;
}

static void check_golden(const char *name, const char *body, size_t len)
{
    char path[PATH_MAX + 64];
    size_t glen = 0;
    snprintf(path, sizeof(path), "%s/%s", golden_dir, name);
    if (getenv("ZTP_GOLDEN_UPDATE") != NULL) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fwrite(body, 1, len, f);
        fclose(f);
    }
    char *want = slurp(path, &glen);
    if (want == NULL)
        fail_msg("missing golden file %s (ZTP_GOLDEN_UPDATE=1 writes it)", path);
    if (glen != len || memcmp(want, body, len) != 0)
        fail_msg("%s differs from its golden file:\n%s", name, body);
    free(want);
}

static void render_matches(const char *url, const char *suffix)
{
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        ztp_buf_t b = {0};
        char name[96];
        ztp_bootcfg_facts_t f = {"0015654aa937", url};
        const char *ctype = ztp_bootcfg_render(&b, answers[i].vendor, answers[i].poly_ztp, &f);
        assert_non_null(ctype);
        snprintf(name, sizeof(name), "%s%s.%s", answers[i].name, suffix,
                 strcmp(ctype, "text/plain") == 0 ? "txt" : "xml");
        check_golden(name, b.p, b.len);
        ztp_buf_free(&b);
    }
}

static void plain_url_renders_as_golden(void **state)
{
    render_matches(PLAIN, "");
}

static void hostile_url_renders_as_golden(void **state)
{
    render_matches(HOSTILE, "-hostile");
}

/* Whatever the URL, the answer has no byte the format would read as its
 * own: one line per setting, no raw quote or bracket past the markup. */
static void hostile_url_cannot_break_out(void **state)
{
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        ztp_buf_t b = {0};
        ztp_bootcfg_facts_t f = {"0015654aa937", HOSTILE};
        const char *ctype = ztp_bootcfg_render(&b, answers[i].vendor, answers[i].poly_ztp, &f);
        for (size_t k = 0; k < b.len; k++)
            assert_true(b.p[k] == '\n' || (b.p[k] >= 0x20 && b.p[k] < 0x7f));
        assert_null(strstr(b.p, "static.x = 1"));
        assert_null(strstr(b.p, "\nstatic.x"));
        if (strcmp(ctype, "application/xml") == 0) {
            assert_null(strstr(b.p, "<e>"));
            assert_null(strstr(b.p, "&g"));
            assert_null(strstr(b.p, "]]>"));
        }
        ztp_buf_free(&b);
    }
}

/* 000000000000.cfg to a phone nobody knows yet: its own file by Poly's macro. */
static void poly_master_without_a_mac_names_the_phones_file(void **state)
{
    ztp_buf_t b = {0};
    ztp_bootcfg_facts_t f = {"", ""};
    const char *ctype = ztp_bootcfg_render(&b, ZTP_VENDOR_POLY, 0, &f);
    assert_string_equal(ctype, "application/xml");
    check_golden("poly-master-any.xml", b.p, b.len);
    assert_non_null(strstr(b.p, "CONFIG_FILES=\"[PHONE_MAC_ADDRESS]-ztp.cfg\""));
    ztp_buf_free(&b);
}

static void cisco_is_not_rendered_here(void **state)
{
    ztp_buf_t b = {0};
    ztp_bootcfg_facts_t f = {"00562b043615", PLAIN};
    assert_null(ztp_bootcfg_render(&b, ZTP_VENDOR_CISCO, 0, &f));
    assert_int_equal(b.len, 0);
}

int main(int argc, char **argv)
{
    /* build/san/tests/test_bootcfg -> the checkout's tests/unit/golden/boot */
    char exe[PATH_MAX];
    if (realpath(argv[0], exe) == NULL)
        return 1;
    char *root = dirname(dirname(dirname(dirname(exe))));
    snprintf(golden_dir, sizeof(golden_dir), "%s/tests/unit/golden/boot", root);
    (void)argc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_url_renders_as_golden),
        cmocka_unit_test(hostile_url_renders_as_golden),
        cmocka_unit_test(hostile_url_cannot_break_out),
        cmocka_unit_test(poly_master_without_a_mac_names_the_phones_file),
        cmocka_unit_test(cisco_is_not_rendered_here),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
