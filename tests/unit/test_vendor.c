/* redirect/vendor.c: which phone asks /boot for which file, and for which MAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../redirect/vendor.h"

typedef struct {
    const char *file, *ua, *vendor, *mac; /* vendor NULL: 404 */
    int poly_ztp;
} boot_case_t;

static const boot_case_t cases[] = {
    /* each vendor's files with its own User-Agent */
    {"8845-3PCC.xml", "Cisco-CP-8845-3PCC/11.3.1 (00562b043615)", "cisco", "00562b043615", 0},
    {"00562b043615.xml", "Cisco-CP-8845-3PCC/11.3.1 (00562b043615)", "cisco", "00562b043615", 0},
    {"spa8845-3PCC.cfg", "Cisco-CP-8845-3PCC/11.3.1 (00562b043615)", "cisco", "00562b043615", 0},
    {"0015654aa937.boot", "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "yealink", "0015654aa937", 0},
    {"y000000000000.boot", "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "yealink", "0015654aa937", 0},
    {"y000000000028.cfg", "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "yealink", "0015654aa937", 0},
    {"0015654aa937.cfg", "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "yealink", "0015654aa937", 0},
    {"0004F2ABCDEF.cfg", "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application", "poly",
     "0004f2abcdef", 0},
    {"0004F2ABCDEF-ztp.cfg", "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application", "poly",
     "0004f2abcdef", 1},
    {"snomD785.htm", "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 x 000413922D24)", "snom",
     "000413922d24", 0},
    {"000413922d24.xml", "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 x 000413922D24)", "snom",
     "000413922d24", 0},
    {"snomD785-000413922D24.htm", "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33)", "snom", "000413922d24",
     0},
    {"cfgc074ad2bd859", "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859", "grandstream",
     "c074ad2bd859", 0},
    {"cfgc074ad2bd859.xml", "", "grandstream", "c074ad2bd859", 0},
    {"cfggxp1628.xml", "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859", "grandstream",
     "c074ad2bd859", 0},
    {"cfg.xml", "Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859", "grandstream", "c074ad2bd859",
     0},
    {"0c383e07e16c.cfg", "Fanvil X4 2.10.2.6887 0c383e07e16c", "fanvil", "0c383e07e16c", 0},
    {"f0X4hw1.100.cfg", "Fanvil X4 2.10.2.6887 0c383e07e16c", "fanvil", "0c383e07e16c", 0},
    {"7C2F80CA21E4.xml", "Gigaset N720 DM PRO/70.089.00.000.000;7C2F80CA21E4", "gigaset", "7c2f80ca21e4", 0},
    {"N720-7c2f80ca21e4.htm", "", "gigaset", "7c2f80ca21e4", 0},
    /* {mac}.cfg and {mac}.xml: the User-Agent, then the prefix */
    {"0015654aa937.cfg", "Fanvil X4 2.10.2.6887", "fanvil", "0015654aa937", 0},
    {"0015654aa937.cfg", "", "yealink", "0015654aa937", 0},
    {"0004f2abcdef.cfg", "curl/8.0", "poly", "0004f2abcdef", 0},
    {"0c383e07e16c.cfg", NULL, "fanvil", "0c383e07e16c", 0},
    {"7c2f80ca21e4.xml", NULL, "gigaset", "7c2f80ca21e4", 0},
    {"00562b043615.xml", NULL, "cisco", "00562b043615", 0},
    {"020000000001.cfg", NULL, NULL, "", 0},                        /* no vendor's prefix */
    {"000b82000001.cfg", NULL, NULL, "", 0},                        /* Grandstream never asks for it */
    {"0015654aa937.cfg", "Cisco-CP-8845-3PCC/11.3.1", NULL, "", 0}, /* nor does Cisco */
    {"cfg0015654aa937.xml", "Yealink SIP-T46G 1 00:15:65:4a:a9:37", NULL, "", 0},
    /* the file's MAC wins over the User-Agent's */
    {"0015654aa938.boot", "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "yealink", "0015654aa938", 0},
    /* files without a MAC need one from the User-Agent, Poly's master for every phone excepted (below) */
    {"000000000000.cfg", "Yealink SIP-T46G 28.72.0.1", NULL, "", 0},
    {"cfg.xml", "", NULL, "", 0},
    /* hostile names */
    {"", NULL, NULL, "", 0},
    {"../etc/passwd", NULL, NULL, "", 0},
    {"010000000001.cfg", NULL, NULL, "", 0}, /* multicast */
    {"0015654aa937.CFG", NULL, "yealink", "0015654aa937", 0},
    {"0015654aa937.cfg.bak", NULL, NULL, "", 0},
    {"0015654aa937-ztp.cfg.xml", NULL, NULL, "", 0},
    {"snom<script>.htm", "Mozilla/4.0 (compatible; snomD785-SIP 1 000413922D24)", NULL, "", 0},
    {"cfg0015654aa93.xml", "Grandstream Model HW GXP1628 SW 1 DevId c074ad2bd859", "grandstream",
     "c074ad2bd859", 0}, /* an 11-digit "model" */
    {"x.xml", "Cisco-CP-8845-3PCC/11.3.1 (00562b043615)", "cisco", "00562b043615", 0},
    {"-000413922D24.htm", NULL, NULL, "", 0},
};

static void recognizes_each_vendor_and_refuses_the_rest(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const boot_case_t *c = &cases[i];
        ztp_ua_t ua;
        ztp_boot_target_t t;
        size_t len = strlen(c->file);
        ztp_ua_parse(c->ua, c->ua ? strlen(c->ua) : 0, &ua);
        int rc = ztp_vendor_recognize(c->file, len, &ua, &t);
        if ((rc == 0) != (c->vendor != NULL) ||
            (rc == 0 && (strcmp(ztp_vendor_name(t.vendor), c->vendor) != 0 || strcmp(t.mac, c->mac) != 0 ||
                         t.poly_ztp != c->poly_ztp)))
            fail_msg("case %zu (%s, %s): rc %d vendor %s mac %s", i, c->file, c->ua ? c->ua : "-", rc,
                     rc == 0 ? ztp_vendor_name(t.vendor) : "-", rc == 0 ? t.mac : "-");
    }
}

/* Poly's User-Agent names no MAC: 000000000000.cfg is answered to every
 * Poly phone alike (poly_any), and to nobody else. */
static void poly_master_without_a_mac(void **state)
{
    static const struct {
        const char *file, *ua;
        int ok;
    } asks[] = {{"000000000000.cfg", "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application", 1},
                {"000000000000.CFG", NULL, 1},
                {"000000000000.cfg", "Cisco-CP-8845-3PCC/11.3.1", 0},
                {"000000000000.cfg", "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", 0},
                {"y000000000000.boot", "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application", 0}};
    for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
        ztp_ua_t ua;
        ztp_boot_target_t t;
        ztp_ua_parse(asks[i].ua, asks[i].ua ? strlen(asks[i].ua) : 0, &ua);
        int rc = ztp_vendor_recognize(asks[i].file, strlen(asks[i].file), &ua, &t);
        if (asks[i].ok != (rc == 0) ||
            (rc == 0 && (t.vendor != ZTP_VENDOR_POLY || !t.poly_any || t.mac[0] != '\0' || t.poly_ztp)))
            fail_msg("%s, %s: rc %d", asks[i].file, asks[i].ua ? asks[i].ua : "-", rc);
    }
    /* with a MAC known, the same name is that phone's, as before */
    ztp_ua_t ua = {0};
    ztp_boot_target_t t;
    strcpy(ua.vendor, "poly");
    strcpy(ua.mac, "0004f2000001");
    assert_int_equal(ztp_vendor_recognize("000000000000.cfg", 16, &ua, &t), 0);
    assert_false(t.poly_any);
    assert_string_equal(t.mac, "0004f2000001");
}

static void a_nul_inside_the_name_is_refused(void **state)
{
    ztp_ua_t ua;
    ztp_boot_target_t t;
    ztp_ua_parse(NULL, 0, &ua);
    assert_int_equal(ztp_vendor_recognize("0015654aa937.cfg\0.xml", 21, &ua, &t), -1);
    assert_int_equal(ztp_vendor_recognize("0015654aa937.cfg", 16, &ua, &t), 0);
}

static void oui_tables_name_their_vendor(void **state)
{
    assert_int_equal(ztp_vendor_by_mac("805ec0000001"), ZTP_VENDOR_YEALINK);
    assert_int_equal(ztp_vendor_by_mac("64167F000001"), ZTP_VENDOR_POLY);
    assert_int_equal(ztp_vendor_by_mac("000413000001"), ZTP_VENDOR_SNOM);
    assert_int_equal(ztp_vendor_by_mac("ec74d7000001"), ZTP_VENDOR_GRANDSTREAM);
    assert_int_equal(ztp_vendor_by_mac("0c383e000001"), ZTP_VENDOR_FANVIL);
    assert_int_equal(ztp_vendor_by_mac("589ec6000001"), ZTP_VENDOR_GIGASET);
    assert_int_equal(ztp_vendor_by_mac("0c1167000001"), ZTP_VENDOR_CISCO);
    assert_int_equal(ztp_vendor_by_mac("44dbd2000001"), ZTP_VENDOR_NONE); /* not registered to Yealink */
    assert_int_equal(ztp_vendor_by_mac("00016d000001"), ZTP_VENDOR_NONE); /* not Gigaset's */
    assert_int_equal(ztp_vendor_by_mac("0000"), ZTP_VENDOR_NONE);
    assert_int_equal(ztp_vendor_by_name("poly"), ZTP_VENDOR_POLY);
    assert_int_equal(ztp_vendor_by_name("polycom"), ZTP_VENDOR_NONE);
    assert_null(ztp_vendor_name(ZTP_VENDOR_COUNT));
}

/* What ztp-phone asks for is what /boot recognizes, vendor by vendor. */
static void first_files_are_recognized_as_their_vendor(void **state)
{
    static const struct {
        ztp_vendor_t v;
        const char *mac, *model, *firmware;
    } phones[] = {{ZTP_VENDOR_CISCO, "00562b043615", "CP-8845-3PCC", "11.3.1"},
                  {ZTP_VENDOR_YEALINK, "805ec0000001", "SIP-T46G", "28.72.0.1"},
                  {ZTP_VENDOR_POLY, "0004f2000001", "VVX_400", "4.1.4"},
                  {ZTP_VENDOR_SNOM, "000413000001", "D785", "10.1.33.33"},
                  {ZTP_VENDOR_GRANDSTREAM, "c074ad000001", "GXP1628", "1.0.4.138"},
                  {ZTP_VENDOR_FANVIL, "0c383e000001", "X4", "2.10.2.6887"},
                  {ZTP_VENDOR_GIGASET, "7c2f80000001", "N720", "70.089"}};
    static const int counts[ZTP_VENDOR_COUNT] = {3, 4, 2, 3, 4, 2, 2};
    char file[128], expect[128];
    for (size_t i = 0; i < sizeof(phones) / sizeof(phones[0]); i++) {
        int n = 0;
        for (; ztp_vendor_first_file(phones[i].v, n, phones[i].mac, phones[i].model, phones[i].firmware, file,
                                     sizeof(file)) == 0;
             n++) {
            ztp_ua_t ua = {0};
            ztp_boot_target_t t;
            strcpy(ua.vendor, ztp_vendor_name(phones[i].v));
            strcpy(ua.mac, phones[i].mac);
            if (ztp_vendor_recognize(file, strlen(file), &ua, &t) != 0 || t.vendor != phones[i].v)
                fail_msg("%s: %s not recognized", ztp_vendor_name(phones[i].v), file);
        }
        assert_int_equal(n, counts[phones[i].v]);
    }
    assert_int_equal(ztp_vendor_first_file(ZTP_VENDOR_YEALINK, 2, "805ec0000001", "SIP-T46G", "28.72.0.1",
                                           file, sizeof(file)),
                     0);
    snprintf(expect, sizeof(expect), "y000000000028.cfg");
    assert_string_equal(file, expect);
    assert_int_equal(ztp_vendor_first_file(ZTP_VENDOR_SNOM, 0, "000413000001", "D785", "", file, 8), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(recognizes_each_vendor_and_refuses_the_rest),
        cmocka_unit_test(poly_master_without_a_mac),
        cmocka_unit_test(a_nul_inside_the_name_is_refused),
        cmocka_unit_test(oui_tables_name_their_vendor),
        cmocka_unit_test(first_files_are_recognized_as_their_vendor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
