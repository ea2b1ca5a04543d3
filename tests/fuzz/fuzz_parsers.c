/*
 * libFuzzer target for every parser of hostile input. The first byte picks
 * the parser; the rest is the input. Checks the invariants each promises.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../activation/code.h"
#include "../../admin-api/import.h"
#include "../../admin-api/sessions.h"
#include "../../admin-api/users.h"
#include "../../redirect/certmac.h"
#include "../../redirect/mac.h"
#include "../../redirect/bootcfg.h"
#include "../../redirect/profile.h"
#include "../../redirect/useragent.h"
#include "../../redirect/vendor.h"
#include "../../services/http.h"
#include "../../services/secret.h"
#include "../../tools/ztp-phone/rule.h"
#include "../../tools/ztp-phone/vendor.h"

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            abort();
}

static const char *lookup_all(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    return len == 2 && memcmp(name, "MA", 2) == 0 ? "00562b043615" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text;
    if (size == 0)
        return 0;
    int which = data[0] % 14;
    data++;
    size--;
    text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    switch (which) {
    case 0: { /* MAC: a parsed MAC formats to 12 hex digits that parse to the same bytes */
        uint8_t mac[6], again[6];
        char out[13];
        if (ztp_mac_parse(text, size, mac) == 0) {
            ztp_mac_format(mac, out);
            if (strlen(out) != 12 || ztp_mac_parse(out, 12, again) != 0 || memcmp(mac, again, 6) != 0 ||
                (mac[0] & 1))
                abort();
        }
        break;
    }
    case 1: { /* User-Agent: bounded, printable fields, never an error */
        ztp_ua_t ua;
        ztp_ua_parse(text, size, &ua);
        check_printable(ua.vendor);
        check_printable(ua.model);
        check_printable(ua.firmware);
        check_printable(ua.serial);
        if (ua.mac[0] != '\0' && strlen(ua.mac) != 12)
            abort();
        break;
    }
    case 2: { /* codes */
        char digits[ZTP_CODE_DIGITS + 1];
        ztp_code_kind_t k = ztp_code_normalise(text, size, digits);
        if (k == ZTP_CODE_ACTIVATION && strlen(digits) != 16)
            abort();
        if (k == ZTP_CODE_SHORT && (strlen(digits) < 3 || strlen(digits) > 16))
            abort();
        break;
    }
    case 3:
    case 4: { /* imports: whatever is accepted is canonical */
        ztp_import_t im;
        ztp_import_init(&im);
        if (which == 3)
            ztp_import_parse_csv(&im, text, size);
        else
            ztp_import_parse_json(&im, text, size);
        /* one COPY row a line, six fields each, no NUL */
        size_t lines = 0, tabs = 0;
        for (size_t i = 0; i < im.copy.len; i++) {
            lines += im.copy.p[i] == '\n';
            tabs += im.copy.p[i] == '\t';
        }
        if (lines != im.rows || tabs != im.rows * 5 || (im.rows > 0 && strlen(im.copy.p) != im.copy.len))
            abort();
        ztp_import_free(&im);
        break;
    }
    case 5: { /* profile rules and macros */
        ztp_buf_t b = {0};
        if (ztp_rule_check(text) == NULL && strlen(text) > ZTP_RULE_MAX)
            abort();
        ztp_macro_expand(&b, text, lookup_all, NULL);
        ztp_buf_free(&b);
        ztp_profile_xml(&b, text, text, NULL);
        ztp_buf_free(&b);
        break;
    }
    case 6: { /* the phone's side: rules, delay lists, flat profiles */
        ztp_rule_t r;
        ztp_delays_t d;
        char *rule;
        ztp_rule_parse(text, &r);
        if (ztp_delays_parse(text, &d) == 0 && (d.n < 1 || d.n > ZTP_PHONE_MAX_DELAYS))
            abort();
        if (ztp_flat_profile_rule(text, size, &rule) == 0)
            free(rule);
        break;
    }
    case 7: { /* /boot file names, with the User-Agent in the second half */
        ztp_ua_t ua;
        ztp_boot_target_t t;
        size_t half = size / 2;
        ztp_ua_parse(text + half, size - half, &ua);
        if (ztp_vendor_recognize(text, half, &ua, &t) == 0 &&
            (t.vendor <= ZTP_VENDOR_NONE || t.vendor >= ZTP_VENDOR_COUNT || strlen(t.mac) != 12))
            abort();
        break;
    }
    case 8: { /* the vendors' answers: any URL, no byte the format reads as its own */
        for (int v = ZTP_VENDOR_YEALINK; v < ZTP_VENDOR_COUNT; v++) {
            ztp_buf_t b = {0};
            ztp_bootcfg_facts_t f = {"0015654aa937", text};
            ztp_bootcfg_render(&b, (ztp_vendor_t)v, size % 2, &f);
            for (size_t i = 0; i < b.len; i++)
                if (b.p[i] != '\n' && ((unsigned char)b.p[i] < 0x20 || (unsigned char)b.p[i] >= 0x7f))
                    abort();
            ztp_buf_free(&b);
        }
        break;
    }
    case 9: { /* ztp-phone reading a vendor's first file */
        ztp_phone_id_t id = {"0015654aa937", "SIP-T46G", "28.72.0.1", "", 0};
        for (int v = ZTP_VENDOR_YEALINK; v < ZTP_VENDOR_COUNT; v++) {
            ztp_first_answer_t a;
            if (ztp_phone_read_first((ztp_vendor_t)v, "http://h/boot/x.cfg", text, size, &id, &a) == 0)
                ztp_first_answer_free(&a);
        }
        break;
    }
    case 10: { /* the MAC in a certificate's name: a unicast MAC that reads back the same */
        uint8_t mac[6], again[6];
        char out[16] = "SEP";
        if (ztp_certmac_find(text, size, mac) == 0) {
            ztp_mac_format(mac, out + 3);
            if ((mac[0] & 1) || ztp_certmac_find(out, 15, again) != 0 || memcmp(mac, again, 6) != 0)
                abort();
        }
        break;
    }
    case 11: { /* people: a found session token is well-formed; emails and passwords never crash */
        char token[ZTP_TOKEN_LEN + 1];
        if (ztp_session_cookie_find(text, size, token) == 0 && !ztp_token_ok(token, strlen(token)))
            abort();
        (void)ztp_user_email_ok(text);
        (void)ztp_user_password_problem(text, size);
        break;
    }
    case 12: { /* query strings: what ztp_http_form_ok passes, ztp_http_form_get decodes under any name */
        h2o_mem_pool_t pool;
        const char *v;
        h2o_mem_init_pool(&pool);
        if (ztp_http_form_ok(text, size))
            for (const char *name = text; name < text + size; name += strcspn(name, "&") + 1) {
                char key[64];
                size_t n = strcspn(name, "=&");
                if (n >= sizeof(key))
                    continue;
                memcpy(key, name, n);
                key[n] = '\0';
                if (strlen(key) == n && ztp_http_form_get(&pool, text, size, key, &v) != 0)
                    abort();
            }
        h2o_mem_clear_pool(&pool);
        break;
    }
    case 13: { /* cursors: only a sealed one opens, to what was sealed */
        static const unsigned char master[32] = {7};
        static int ready;
        unsigned long long pos;
        char again[ZTP_CURSOR_LEN + 1];
        if (!ready)
            ready = ztp_secret_init(master, NULL) == 0;
        if (ztp_secret_cursor_open("scope", text, &pos) == 0 &&
            (ztp_secret_cursor_seal("scope", pos, again) != 0 || strcmp(again, text) != 0))
            abort();
        break;
    }
    }
    free(text);
    return 0;
}
