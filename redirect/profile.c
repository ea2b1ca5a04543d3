#include "profile.h"
#include "useragent.h"

#include "../services/copytext.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

/* The macros the server expands, longest first so that $MAU wins over $MA. */
static const char *const server_macros[] = {"MAU", "MAC", "MA", "PSN", "PN", "SN"};

void ztp_macro_expand(ztp_buf_t *b, const char *in, ztp_macro_lookup_fn lookup, void *ctx)
{
    const char *p = in;
    while (*p != '\0') {
        const char *dollar = strchr(p, '$');
        if (dollar == NULL) {
            ztp_buf_puts(b, p);
            return;
        }
        ztp_buf_append(b, p, (size_t)(dollar - p));
        const char *name = dollar + 1, *after = NULL;
        size_t len = 0;
        const char *value = NULL;
        if (*name == '(') {
            const char *close = strchr(name, ')');
            if (close != NULL) {
                value = lookup(ctx, name + 1, (size_t)(close - name - 1));
                after = close + 1;
            }
        } else {
            /* the longest run of name characters first, then shorter ones; "$$" names "$" */
            while (isalnum((unsigned char)name[len]) || name[len] == '_')
                len++;
            if (len == 0 && *name == '$')
                len = 1;
            for (; len > 0; len--)
                if ((value = lookup(ctx, name, len)) != NULL)
                    break;
            after = name + len;
        }
        if (value != NULL) {
            ztp_buf_puts(b, value);
            p = after;
        } else {
            ztp_buf_append(b, "$", 1);
            p = dollar + 1;
        }
    }
}

static const char *server_lookup(void *ctx, const char *name, size_t len)
{
    const ztp_phone_facts_t *f = ctx;
    static __thread char scratch[80]; /* the longest model (64 bytes) fits whole */
    size_t i;

    for (i = 0; i < sizeof(server_macros) / sizeof(server_macros[0]); i++)
        if (strlen(server_macros[i]) == len && memcmp(server_macros[i], name, len) == 0)
            break;
    switch (i) {
    case 0: /* MAU */
        for (int k = 0; k < 12; k++)
            scratch[k] = (char)toupper((unsigned char)f->mac[k]);
        scratch[12] = '\0';
        return scratch;
    case 1: /* MAC */
        for (int k = 0; k < 6; k++) {
            scratch[3 * k] = f->mac[2 * k];
            scratch[3 * k + 1] = f->mac[2 * k + 1];
            scratch[3 * k + 2] = k < 5 ? ':' : '\0';
        }
        return scratch;
    case 2: return f->mac;
    case 3: ztp_ua_series(f->model, scratch, sizeof(scratch)); return scratch;
    case 4: return f->model;
    case 5: return f->serial;
    default: return NULL;
    }
}

void ztp_profile_expand(ztp_buf_t *b, const char *text, const ztp_phone_facts_t *f)
{
    ztp_macro_expand(b, text, server_lookup, (void *)f);
}

/* The characters of UTF-8 text s (jansson hands over valid UTF-8 only). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

const char *ztp_vendor_url_check(const char *url)
{
    const char *p, *host;
    size_t len = strlen(url);

    if (len == 0)
        return "must not be empty";
    if (utf8_chars(url) > ZTP_RULE_MAX)
        return "must be at most 1024 characters";
    for (p = url; *p != '\0'; p++) {
        if (ztp_utf8_is_control(p))
            return "must not contain control characters";
        if (strchr(" \"'<>&\\", *p) != NULL)
            return "must not contain spaces, quotes, <, >, & or backslashes";
    }
    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return "must be an absolute http or https URL";
    if (*host == '\0' || *host == '/')
        return "the URL has no host";
    return NULL;
}

const char *ztp_rule_url(const char *rule)
{
    const char *p = rule;
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p != '[')
            return p;
        const char *close = strchr(p, ']');
        if (close == NULL)
            return p;
        p = close + 1;
    }
}

const char *ztp_rule_check(const char *rule)
{
    const char *p = rule, *url;
    size_t len = strlen(rule);

    if (len == 0)
        return "must not be empty";
    if (utf8_chars(rule) > ZTP_RULE_MAX)
        return "must be at most 1024 characters";
    for (; *p != '\0'; p++)
        if (ztp_utf8_is_control(p))
            return "must not contain control characters";
    for (p = rule;;) {
        while (*p == ' ')
            p++;
        if (*p != '[')
            break;
        if (strncmp(p, "[--", 3) != 0)
            return "options must look like [--option value ...]";
        if ((p = strchr(p, ']')) == NULL)
            return "an option list is not closed with ]";
        p++;
    }
    url = p;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0 &&
        strncmp(url, "tftp://", 7) != 0)
        return "must be an absolute http, https or tftp URL (after any [--options])";
    if (strchr(url, ' ') != NULL)
        return "the URL must not contain spaces";
    if (url[strcspn(url, ":") + 3] == '\0' || url[strcspn(url, ":") + 3] == '/')
        return "the URL has no host";
    return NULL;
}

/* Each parameter becomes an XML element named after it, and an element's
 * name cannot begin with a digit: "1st_Line" made the whole answer
 * malformed. So a name begins with a letter or _. */
int ztp_param_name_ok(const char *name)
{
    if (!isalpha((unsigned char)*name) && *name != '_')
        return 0;
    if (strlen(name) > 64)
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return strcmp(name, "Profile_Rule") != 0 && strcmp(name, "Upgrade_Rule") != 0;
}

static void xml_element(ztp_buf_t *b, const char *name, const char *value)
{
    ztp_buf_printf(b, "  <%s ua=\"na\">", name);
    ztp_buf_xml_escaped(b, value);
    ztp_buf_printf(b, "</%s>\n", name);
}

void ztp_profile_xml(ztp_buf_t *b, const char *rule, const char *upgrade, json_t *params)
{
    const char *key;
    json_t *value;

    ztp_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<flat-profile>\n");
    xml_element(b, "Profile_Rule", rule);
    if (upgrade != NULL)
        xml_element(b, "Upgrade_Rule", upgrade);
    if (json_is_object(params))
        json_object_foreach(params, key, value)
        {
            if (ztp_param_name_ok(key) && json_is_string(value))
                xml_element(b, key, json_string_value(value));
        }
    ztp_buf_puts(b, "</flat-profile>\n");
}

json_t *ztp_profile_json(const ztp_phone_facts_t *f, const char *rule, const char *upgrade, json_t *params)
{
    ztp_buf_t url = {0};
    json_t *o;

    ztp_profile_expand(&url, ztp_rule_url(rule), f);
    o = json_pack("{s:s, s:s, s:s?, s:o, s:s}", "mac", f->mac, "profile_rule", rule, "upgrade_rule", upgrade,
                  "params", json_is_object(params) ? json_incref(params) : json_object(), "url",
                  url.p ? url.p : "");
    ztp_buf_free(&url);
    return o;
}

void ztp_profile_token(const unsigned char key[32], const char *mac, char out[33])
{
    unsigned char digest[16];
    crypto_generichash(digest, sizeof(digest), (const unsigned char *)mac, strlen(mac), key, 32);
    sodium_bin2hex(out, 33, digest, sizeof(digest));
}

void ztp_profile_expand_token(ztp_buf_t *b, const char *in, const char *token)
{
    static const char macro[] = "$(ZTP_TOKEN)";
    const char *p = in, *hit;
    while ((hit = strstr(p, macro)) != NULL) {
        ztp_buf_append(b, p, (size_t)(hit - p));
        ztp_buf_puts(b, token);
        p = hit + sizeof(macro) - 1;
    }
    ztp_buf_puts(b, p);
}
