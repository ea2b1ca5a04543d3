/* The provisioning logic of a Cisco MPP phone, in pure parts. */
#include "rule.h"

#include "../../redirect/profile.h"
#include "../../redirect/useragent.h"

#include <ctype.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HOPS 5
#define MAX_AUTHS 2

static const char *option_value(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    while (p < end && *p == ' ')
        p++;
    while (p < end && *p != ' ') {
        if (n + 1 < cap)
            out[n++] = *p;
        p++;
    }
    out[n] = '\0';
    return p;
}

int ztp_rule_parse(const char *rule, ztp_rule_t *out)
{
    const char *p = rule;
    memset(out, 0, sizeof(*out));
    for (;;) {
        while (*p == ' ')
            p++;
        if (*p != '[')
            break;
        const char *end = strchr(p, ']');
        if (end == NULL)
            return -1;
        for (const char *q = p + 1; q < end;) {
            while (q < end && *q == ' ')
                q++;
            if (q >= end)
                break;
            if (strncmp(q, "--uid", 5) == 0 && (q[5] == ' ')) {
                q = option_value(q + 5, end, out->uid, sizeof(out->uid));
            } else if (strncmp(q, "--pwd", 5) == 0 && (q[5] == ' ')) {
                q = option_value(q + 5, end, out->pwd, sizeof(out->pwd));
            } else if (strncmp(q, "--", 2) == 0) {
                char skip[8];
                q = option_value(q, end, skip, sizeof(skip)); /* the option's name */
                if (q < end && q[0] == ' ' && q[1] != '-')
                    q = option_value(q, end, skip, sizeof(skip)); /* and its value */
            } else {
                return -1;
            }
        }
        p = end + 1;
    }
    if (*p == '\0')
        return -1;
    out->url = p;
    if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0)
        out->tftp = 1; /* tftp://, or no scheme, which a phone reads as TFTP */
    return 0;
}

static const char *phone_lookup(void *ctx, const char *name, size_t len)
{
    const ztp_phone_id_t *id = ctx;
    static __thread char scratch[64];
    char key[8];

    if (len >= sizeof(key))
        return NULL;
    memcpy(key, name, len);
    key[len] = '\0';
    if (strcmp(key, "$") == 0)
        return "$";
    if (strcmp(key, "MA") == 0)
        return id->mac;
    if (strcmp(key, "MAU") == 0 || strcmp(key, "MAC") == 0) {
        for (int i = 0, o = 0; i < 12; i++) {
            scratch[o++] = key[2] == 'U' ? (char)toupper((unsigned char)id->mac[i]) : id->mac[i];
            if (key[2] == 'C' && i % 2 == 1 && i < 11)
                scratch[o++] = ':';
            scratch[o] = '\0';
        }
        return scratch;
    }
    if (strcmp(key, "PN") == 0)
        return id->model;
    if (strcmp(key, "PSN") == 0) {
        ztp_ua_series(id->model, scratch, sizeof(scratch));
        return scratch;
    }
    if (strcmp(key, "SN") == 0)
        return id->serial;
    if (strcmp(key, "SWVER") == 0)
        return id->firmware;
    if (strcmp(key, "PRVST") == 0) {
        snprintf(scratch, sizeof(scratch), "%d", id->prvst);
        return scratch;
    }
    return NULL;
}

void ztp_rule_expand(ztp_buf_t *b, const char *text, const ztp_phone_id_t *id)
{
    ztp_macro_expand(b, text, phone_lookup, (void *)id);
}

int ztp_delays_parse(const char *list, ztp_delays_t *out)
{
    const char *p = list;
    out->n = 0;
    while (*p != '\0') {
        char *end;
        double base = strtod(p, &end), jitter = 0;
        if (end == p || !(base >= 0 && base <= 86400) || out->n == ZTP_PHONE_MAX_DELAYS) /* NaN too */
            return -1;
        p = end;
        if (*p == '+') {
            jitter = strtod(p + 1, &end);
            if (end == p + 1 || !(jitter >= 0 && jitter <= 86400))
                return -1;
            p = end;
        }
        out->base[out->n] = base;
        out->jitter[out->n] = jitter;
        out->n++;
        if (*p == ',')
            p++;
        else if (*p != '\0')
            return -1;
        if (*p == '\0' && p[-1] == ',')
            return -1;
    }
    return out->n > 0 ? 0 : -1;
}

double ztp_delays_at(const ztp_delays_t *d, int failures, double random01)
{
    int i = failures - 1;
    if (i < 0)
        i = 0;
    if (i >= d->n)
        i = d->n - 1;
    return d->base[i] + d->jitter[i] * random01;
}

ztp_next_t ztp_answer_next(int status, int hops, int auths, const char *current_rule, const char *new_rule)
{
    switch (status) {
    case 301:
    case 302: return hops < MAX_HOPS ? ZTP_NEXT_FOLLOW : ZTP_NEXT_WAIT;
    case 401:
    case 407: return auths < MAX_AUTHS ? ZTP_NEXT_AUTH : ZTP_NEXT_WAIT;
    case 200:
        if (new_rule != NULL && *new_rule != '\0' && strcmp(new_rule, current_rule) != 0)
            return ZTP_NEXT_RESYNC;
        return ZTP_NEXT_PROVISIONED;
    default: return ZTP_NEXT_WAIT;
    }
}

/* ---- the flat profile ---- */

typedef struct flat {
    int depth, in_rule;
    ztp_buf_t rule;
    int found, too_long;
} flat_t;

#define MAX_RULE 4096 /* a longer Profile_Rule makes the profile unusable */

static void on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    flat_t *f = data;
    (void)attrs;
    f->depth++;
    if (f->depth == 2 && strcmp(name, "Profile_Rule") == 0) {
        f->in_rule = 1;
        f->found = 1;
        f->rule.len = 0;
        ztp_buf_append(&f->rule, "", 0);
    }
}

static void on_end(void *data, const XML_Char *name)
{
    flat_t *f = data;
    (void)name;
    if (f->depth == 2)
        f->in_rule = 0;
    f->depth--;
}

static void on_text(void *data, const XML_Char *s, int len)
{
    flat_t *f = data;
    if (f->in_rule && f->rule.len + (size_t)len > MAX_RULE)
        f->too_long = 1; /* not cut: what is left would be another URL */
    else if (f->in_rule)
        ztp_buf_append(&f->rule, s, (size_t)len);
}

int ztp_flat_profile_rule(const char *body, size_t len, char **rule)
{
    XML_Parser parser = XML_ParserCreate("UTF-8");
    flat_t f = {0};
    int ok;

    *rule = NULL;
    XML_SetUserData(parser, &f);
    XML_SetElementHandler(parser, on_start, on_end);
    XML_SetCharacterDataHandler(parser, on_text);
    ok = len <= (size_t)1 << 30 && XML_Parse(parser, body, (int)len, 1) == XML_STATUS_OK;
    XML_ParserFree(parser);
    if (!ok || f.too_long) {
        ztp_buf_free(&f.rule);
        return -1;
    }
    if (f.found) {
        /* phones trim the surrounding white space of a value */
        char *s = f.rule.p ? f.rule.p : "";
        while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
            s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
            n--;
        *rule = strndup(s, n);
    }
    ztp_buf_free(&f.rule);
    return 0;
}
