/*
 * User-Agents of real phones, as they arrive at a provisioning server:
 *   Cisco-CP-8845-3PCC/11.3.1 (00562b043615)
 *   Yealink SIP-T54W 96.86.0.70 00:15:65:aa:bb:cc
 *   FileTransport PolycomVVX-VVX_450-UA/6.4.3.5018 Type/Application
 *   Mozilla/4.0 (compatible; snom D785 10.1.152.12 000413aabbcc)
 *   Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)
 *   Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82aabbcc
 *   Fanvil X4 2.10.2.6887 0c383e07e16c
 *   Gigaset N720 DM PRO/70.089.00.000.000;7C2F80CA21E4
 * The vendor names are those of the /boot table (vendor.c).
 */
#include "useragent.h"
#include "mac.h"

#include <stdint.h>
#include <string.h>

typedef struct cursor {
    const char *p, *end;
} cursor_t;

/* Copies up to the next character in `stops` (or the end) into dst. */
static void take(cursor_t *c, const char *stops, char *dst, size_t cap)
{
    size_t n = 0;
    while (c->p < c->end && strchr(stops, *c->p) == NULL) {
        if (n + 1 < cap)
            dst[n++] = *c->p;
        c->p++;
    }
    dst[n] = '\0';
}

static void skip(cursor_t *c, const char *chars)
{
    while (c->p < c->end && strchr(chars, *c->p) != NULL)
        c->p++;
}

static int skip_word(cursor_t *c, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || strncmp(c->p, word, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

static void set_mac(ztp_ua_t *out, const char *text)
{
    uint8_t mac[6];
    if (ztp_mac_parse(text, strlen(text), mac) == 0)
        ztp_mac_format(mac, out->mac);
}

/* src into dst, cut to fit; a cut never splits a UTF-8 character (a
 * provider's model may end in one, and half of it is not text). */
static void copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        for (n = cap - 1; n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80; n--)
            ;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int parse_cisco(cursor_t c, ztp_ua_t *out)
{
    char tok[64];
    if (skip_word(&c, "Cisco-")) {
        take(&c, "/ ", out->model, sizeof(out->model));
    } else if (skip_word(&c, "Cisco/")) { /* SPA: Cisco/SPA504G-7.6.2 */
        take(&c, "- ", out->model, sizeof(out->model));
        skip(&c, "-");
        take(&c, " (", out->firmware, sizeof(out->firmware));
    } else {
        return 0;
    }
    if (out->firmware[0] == '\0') {
        skip(&c, "/");
        take(&c, " (", out->firmware, sizeof(out->firmware));
    }
    for (int i = 0; i < 2; i++) {
        skip(&c, " ");
        if (!skip_word(&c, "("))
            break;
        take(&c, ")", tok, sizeof(tok));
        skip(&c, ")");
        if (i == 0 && (set_mac(out, tok), out->mac[0] != '\0'))
            continue;
        copy(out->serial, sizeof(out->serial), tok);
    }
    copy(out->vendor, sizeof(out->vendor), "cisco");
    return 1;
}

/* "PREFIX MODEL FIRMWARE MAC", the form of Yealink ("Yealink SIP-T46G
 * 28.72.0.1 00:15:65:4a:a9:37") and Fanvil ("Fanvil X4 2.10.2.6887
 * 0c383e07e16c"). */
static int parse_model_firmware_mac(cursor_t c, const char *prefix, const char *vendor, ztp_ua_t *out)
{
    char tok[64];
    if (!skip_word(&c, prefix))
        return 0;
    take(&c, " ", out->model, sizeof(out->model));
    skip(&c, " ");
    take(&c, " ", out->firmware, sizeof(out->firmware));
    skip(&c, " ");
    take(&c, " ", tok, sizeof(tok));
    set_mac(out, tok);
    copy(out->vendor, sizeof(out->vendor), vendor);
    return 1;
}

static int parse_polycom(cursor_t c, ztp_ua_t *out)
{
    const char *at = memmem(c.p, (size_t)(c.end - c.p), "Polycom", 7);
    char product[64];
    if (at == NULL)
        return 0;
    c.p = at + 7;
    take(&c, "-/ ", product, sizeof(product)); /* e.g. VVX, SoundPoint IP */
    if (skip_word(&c, "-"))
        take(&c, "/ ", out->model, sizeof(out->model));
    else
        copy(out->model, sizeof(out->model), product);
    /* the model ends with "-UA" */
    size_t n = strlen(out->model);
    if (n > 3 && strcmp(out->model + n - 3, "-UA") == 0)
        out->model[n - 3] = '\0';
    if (skip_word(&c, "/"))
        take(&c, " ", out->firmware, sizeof(out->firmware));
    copy(out->vendor, sizeof(out->vendor), "poly");
    return 1;
}

/* "snom" begins the text or a word, and no longer word ("snomelike"): "snomD785-SIP 10.1.33.33 ...
 * 000413922D24 ...)" or "snom D785 10.1.152.12 000413aabbcc)"; the MAC is the first word after the firmware
 * that reads as one. */
static int parse_snom(cursor_t c, ztp_ua_t *out)
{
    const char *at = c.p;
    char tok[64];
    while ((at = memmem(at, (size_t)(c.end - at), "snom", 4)) != NULL &&
           ((at > c.p && at[-1] != ' ' && at[-1] != ';' && at[-1] != '(') ||
            (at + 4 < c.end && at[4] >= 'a' && at[4] <= 'z')))
        at += 4;
    if (at == NULL)
        return 0;
    c.p = at + 4;
    skip(&c, " ");
    take(&c, " -)", out->model, sizeof(out->model));
    skip_word(&c, "-SIP");
    skip(&c, " ");
    take(&c, " )", out->firmware, sizeof(out->firmware));
    while (c.p < c.end && *c.p == ' ' && out->mac[0] == '\0') {
        skip(&c, " ");
        take(&c, " )", tok, sizeof(tok));
        set_mac(out, tok);
    }
    copy(out->vendor, sizeof(out->vendor), "snom");
    return 1;
}

static int parse_grandstream(cursor_t c, ztp_ua_t *out)
{
    char word[32], tok[64];
    if (!skip_word(&c, "Grandstream"))
        return 0;
    while (c.p < c.end) {
        skip(&c, " ");
        take(&c, " ", word, sizeof(word));
        if (strcmp(word, "HW") == 0) {
            skip(&c, " ");
            take(&c, " ", out->model, sizeof(out->model));
        } else if (strcmp(word, "SW") == 0) {
            skip(&c, " ");
            take(&c, " ", out->firmware, sizeof(out->firmware));
        } else if (strcmp(word, "DevId") == 0) {
            skip(&c, " ");
            take(&c, " ", tok, sizeof(tok));
            set_mac(out, tok);
        }
    }
    copy(out->vendor, sizeof(out->vendor), "grandstream");
    return 1;
}

/* "Gigaset N720 DM PRO/70.089.00.000.000;7C2F80CA21E4": the model may hold spaces. */
static int parse_gigaset(cursor_t c, ztp_ua_t *out)
{
    char tok[64];
    if (!skip_word(&c, "Gigaset "))
        return 0;
    take(&c, "/;", out->model, sizeof(out->model));
    if (skip_word(&c, "/"))
        take(&c, "; ", out->firmware, sizeof(out->firmware));
    if (skip_word(&c, ";")) {
        take(&c, " ;", tok, sizeof(tok));
        set_mac(out, tok);
    }
    copy(out->vendor, sizeof(out->vendor), "gigaset");
    return 1;
}

size_t ztp_ua_clean(const char *ua, size_t len, char out[ZTP_UA_MAX + 1])
{
    if (ua == NULL)
        len = 0;
    if (len > ZTP_UA_MAX)
        len = ZTP_UA_MAX;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)ua[i];
        out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[len] = '\0';
    return len;
}

void ztp_ua_parse(const char *ua, size_t len, ztp_ua_t *out)
{
    char clean[ZTP_UA_MAX + 1];
    cursor_t c;

    memset(out, 0, sizeof(*out));
    if (ua == NULL)
        len = 0;
    if (len > ZTP_UA_MAX)
        len = ZTP_UA_MAX;
    /* only printable ASCII reaches the parsers, and from them the database */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)ua[i];
        clean[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    clean[len] = '\0';
    c.p = clean;
    c.end = clean + len;
    if (parse_cisco(c, out) || parse_model_firmware_mac(c, "Yealink ", "yealink", out) || parse_polycom(c, out) || parse_snom(c, out) ||
        parse_grandstream(c, out) || parse_model_firmware_mac(c, "Fanvil ", "fanvil", out) || parse_gigaset(c, out))
        return;
    memset(out, 0, sizeof(*out));
    copy(out->vendor, sizeof(out->vendor), "unknown");
}

void ztp_ua_series(const char *model, char *out, size_t cap)
{
    if (strncmp(model, "CP-", 3) == 0)
        model += 3;
    else if (strncmp(model, "CP", 2) == 0)
        model += 2;
    copy(out, cap, model);
}
