#ifndef ZTP_PROFILE_H
#define ZTP_PROFILE_H

#include <jansson.h>
#include <stddef.h>

#include "../services/buf.h"

#define ZTP_RULE_MAX 1024

/* Returns the value of macro NAME (without '$'), or NULL to leave it as written. */
typedef const char *(*ztp_macro_lookup_fn)(void *ctx, const char *name, size_t len);

/* Expands $NAME and $(NAME) macros of `in` into b, once (not recursively).
 * Names are matched longest first among those lookup knows. */
void ztp_macro_expand(ztp_buf_t *b, const char *in, ztp_macro_lookup_fn lookup, void *ctx);

/* What the server knows of the asking phone, for the JSON "url". */
typedef struct ztp_phone_facts {
    const char *mac;    /* 12 lower-case hex digits */
    const char *model;  /* $PN, may be empty */
    const char *serial; /* $SN, may be empty */
} ztp_phone_facts_t;

/* Expands the macros the server knows ($MA, $MAU, $MAC, $PN, $PSN, $SN)
 * in text for the phone f describes; appends to b. The one expansion of
 * what a profile holds before it is answered. */
void ztp_profile_expand(ztp_buf_t *b, const char *text, const ztp_phone_facts_t *f);

/* Checks one URL of a profile's vendor_urls: an absolute http or https
 * URL, macros allowed, at most 1024 characters, without control
 * characters, spaces, quotes, <, >, & or backslashes (none of which any
 * vendor format carries safely). Returns NULL when valid, else why not. */
const char *ztp_vendor_url_check(const char *url);

/* The URL of a profile rule: the rule without its [--options] prefixes. */
const char *ztp_rule_url(const char *rule);

/* Checks a profile or upgrade rule; returns NULL when valid, else why not. */
const char *ztp_rule_check(const char *rule);

/* The Cisco flat profile for a rule, optional upgrade rule and params
 * (object of strings, may be NULL). Appends to b. */
void ztp_profile_xml(ztp_buf_t *b, const char *rule, const char *upgrade, json_t *params);

/* The JSON answer; returns a new reference. */
json_t *ztp_profile_json(const ztp_phone_facts_t *f, const char *rule, const char *upgrade, json_t *params);

/* Whether `name` may be a flat-profile parameter: [A-Za-z0-9_]+, not one of
 * the rules themselves. */
int ztp_param_name_ok(const char *name);

/* The device's URL token, what $(ZTP_TOKEN) becomes: 32 lower-case hex
 * digits (+ NUL) of keyed BLAKE2b-128 of mac (12 lower-case hex digits)
 * under the provider's 32-byte token key. */
void ztp_profile_token(const unsigned char key[32], const char *mac, char out[33]);

/* Appends `in` to b with every $(ZTP_TOKEN) replaced by token; every other
 * macro stays as written (the phone expands its own). */
void ztp_profile_expand_token(ztp_buf_t *b, const char *in, const char *token);

#endif
