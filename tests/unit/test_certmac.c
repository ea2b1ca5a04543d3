/* redirect/certmac.c: the MAC a device certificate names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "../../redirect/certmac.h"
#include "../../redirect/mac.h"

typedef struct {
    const char *text;
    const char *mac; /* NULL: none found */
} case_t;

static const case_t cases[] = {
    /* the five spellings, alone */
    {"00562b043615", "00562b043615"},
    {"00562B043615", "00562b043615"},
    {"00:56:2b:04:36:15", "00562b043615"},
    {"00-56-2B-04-36-15", "00562b043615"},
    {"0056.2b04.3615", "00562b043615"},
    /* after a non-hex character, as manufacturers write them */
    {"SEP00562B043615", "00562b043615"},
    {"CP-8845-3PCC-00562b043615", "00562b043615"},
    {"SEP00562B043615.example.net", "00562b043615"},
    {"phone 00:56:2b:04:36:15 (desk)", "00562b043615"},
    {"mac=0056.2B04.3615", "00562b043615"},
    {"Yealink T54W 805ec0123456", "805ec0123456"},
    {"urn:dev:mac:00562b043615", "00562b043615"},
    /* the first one wins; group addresses are skipped */
    {"SEP00562B043615 SEP00562B043616", "00562b043615"},
    {"01005e000001 00562b043615", "00562b043615"},
    {"ff:ff:ff:ff:ff:ff,00-56-2b-04-36-15", "00562b043615"},
    /* nothing standing alone */
    {"", NULL},
    {"Cisco Manufacturing CA SHA2", NULL},
    {"CP-8845-3PCC", NULL},
    {"ABC00562B043615", NULL},         /* after a hex digit: part of a longer number */
    {"00562b0436150", NULL},           /* 13 digits */
    {"00562b04361", NULL},             /* 11 digits */
    {"00:56:2b:04:36:15:77:88", NULL}, /* an EUI-64, not a MAC */
    {"00:56:2b:04:36:1", NULL},
    {"00:56:2b-04:36:15", NULL}, /* mixed separators */
    {"0056.2b04.3615.a0b1", NULL},
    {"00562b043615f", NULL},
    {"x01562b043615", NULL}, /* multicast */
    {"serial 1234567890123456789", NULL},
};

static void find_reads_every_spelling_of_the_table(void **state)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t mac[6];
        char text[13];
        int rc = ztp_certmac_find(cases[i].text, strlen(cases[i].text), mac);
        if (cases[i].mac == NULL) {
            if (rc != -1)
                fail_msg("\"%s\" should name no MAC", cases[i].text);
            continue;
        }
        if (rc != 0)
            fail_msg("\"%s\" should name %s", cases[i].text, cases[i].mac);
        ztp_mac_format(mac, text);
        assert_string_equal(text, cases[i].mac);
    }
}

static void find_reads_only_len_bytes(void **state)
{
    uint8_t mac[6];
    assert_int_equal(ztp_certmac_find("SEP00562B0436159", 15, mac), 0);
    assert_int_equal(ztp_certmac_find("SEP00562B043615", 14, mac), -1);
    assert_int_equal(ztp_certmac_find("00562b04\0"
                                      "3615",
                                      13, mac),
                     -1);
}

static X509 *cert_with(const char *cn, const char *san)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    if (cn != NULL)
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"00562b000001", -1, -1, 0);
    if (san != NULL) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
        assert_non_null(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    return x;
}

static void of_cert_reads_cn_then_subject_alt_names(void **state)
{
    static const struct {
        const char *cn, *san, *mac;
    } certs[] = {
        {"SEP00562B043615", "DNS:SEP00562B043616", "00562b043615"},
        {"Cisco phone", "DNS:phone.example, DNS:CP-8845-3PCC-00562b043616", "00562b043616"},
        {NULL, "URI:urn:dev:mac:00562b043617", "00562b043617"},
        {NULL, "email:0056.2b04.3618@phones.example", "00562b043618"},
        {NULL, "otherName:1.3.6.1.4.1.9.1;UTF8:00-56-2B-04-36-19", "00562b043619"},
        {"Cisco phone", "IP:10.0.0.1", NULL},
        {"Cisco phone", NULL, NULL}, /* the MAC in O is not looked at */
    };
    for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
        X509 *x = cert_with(certs[i].cn, certs[i].san);
        uint8_t mac[6];
        char text[13];
        int rc = ztp_certmac_of_cert(x, mac);
        X509_free(x);
        if (certs[i].mac == NULL) {
            assert_int_equal(rc, -1);
            continue;
        }
        assert_int_equal(rc, 0);
        ztp_mac_format(mac, text);
        assert_string_equal(text, certs[i].mac);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(find_reads_every_spelling_of_the_table),
        cmocka_unit_test(find_reads_only_len_bytes),
        cmocka_unit_test(of_cert_reads_cn_then_subject_alt_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
