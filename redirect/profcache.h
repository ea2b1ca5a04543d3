#ifndef ZTP_PROFCACHE_H
#define ZTP_PROFCACHE_H

#include <jansson.h>
#include <stdint.h>

#include "../services/buf.h"

/*
 * The profiles' answers, kept by each loop thread and rendered once per
 * version. Profiles are few and rarely change; every change of a profile (or
 * of its provider's URL token key) commits a new epoch (profile_epoch,
 * migration 0016) that each redirect batch reads in its own snapshot. An
 * answer is served for a batch only when it was read at that batch's epoch
 * or later: a profile edited is answered from the first batch that starts
 * after the edit's 200, with no wait on a notification.
 */
typedef struct ztp_profile_answer {
    char id[37];
    uint64_t epoch;       /* the profile_epoch this was read at */
    int require_certificate; /* read with the answer: checked against it when sent */
    char *rule, *upgrade; /* upgrade may be NULL */
    char *params_text;    /* JSON object text */
    json_t *params, *vendor_urls;
    unsigned char token_key[32]; /* the provider's URL token key */
    int has_token;               /* $(ZTP_TOKEN) appears in rule, upgrade or params */
    ztp_buf_t xml;               /* the flat profile, $(ZTP_TOKEN) as written */
} ztp_profile_answer_t;

typedef enum ztp_profcache_status {
    ZTP_PROFCACHE_OK,
    ZTP_PROFCACHE_GONE,        /* the profile no longer exists */
    ZTP_PROFCACHE_UNAVAILABLE, /* the database could not be asked */
} ztp_profcache_status_t;

/* a is set for OK and lives until the callback returns. */
typedef void (*ztp_profcache_cb)(void *arg, ztp_profcache_status_t st, const ztp_profile_answer_t *a);

/* Calls cb with profile `id` (a uuid as text) as of `epoch` or later: at
 * once when this thread holds it, else once it has been read (the reads of
 * one loop iteration go together in one statement). Loop threads only. */
void ztp_profcache_get(const char *id, uint64_t epoch, ztp_profcache_cb cb, void *arg);

#endif
