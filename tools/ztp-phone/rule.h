#ifndef ZTP_PHONE_RULE_H
#define ZTP_PHONE_RULE_H

#include <stddef.h>

#include "../../services/buf.h"

#define ZTP_PHONE_MAX_DELAYS 32

/* A Profile_Rule as a phone reads it: "[--uid U --pwd P --key K] URL". */
typedef struct ztp_rule {
    char uid[128], pwd[128];
    const char *url; /* into the rule text; NULL when it has no scheme (TFTP) */
    int tftp;        /* the URL is tftp:// or has no scheme: not supported */
} ztp_rule_t;

/* Parses a rule (options, then the URL). Returns 0, or -1 when malformed. Pure. */
int ztp_rule_parse(const char *rule, ztp_rule_t *out);

/* What the phone knows of itself, for macro expansion. */
typedef struct ztp_phone_id {
    char mac[13]; /* lower-case hex */
    const char *model;
    const char *firmware;
    const char *serial;
    int prvst;
} ztp_phone_id_t;

/* Expands $MA $MAU $MAC $PN $PSN $SN $SWVER $PRVST $$ (and $(NAME)) once;
 * unknown macros stay as written. Appends to b. */
void ztp_rule_expand(ztp_buf_t *b, const char *text, const ztp_phone_id_t *id);

/* A retry-delay list: "60,120,240" (seconds, decimals allowed, the last
 * repeating); "S+N" adds a random 0..N seconds. */
typedef struct ztp_delays {
    int n;
    double base[ZTP_PHONE_MAX_DELAYS], jitter[ZTP_PHONE_MAX_DELAYS];
} ztp_delays_t;

/* Returns 0, or -1 for a malformed list. Pure. */
int ztp_delays_parse(const char *list, ztp_delays_t *out);

/* The delay before attempt `failures` + 1 (failures >= 1), given a random
 * number in [0, 1). */
double ztp_delays_at(const ztp_delays_t *d, int failures, double random01);

/* What to do after an answer. */
typedef enum {
    ZTP_NEXT_FOLLOW,      /* 301/302: request the Location at once */
    ZTP_NEXT_AUTH,        /* 401/407: again with credentials */
    ZTP_NEXT_RESYNC,      /* 200 with a new Profile_Rule: apply it, resync at once */
    ZTP_NEXT_PROVISIONED, /* 200, rule unchanged or none */
    ZTP_NEXT_WAIT,        /* anything else: wait the next delay, start again from the rule */
} ztp_next_t;

/* The phone's decision table. hops and auths count what this attempt did
 * already; new_rule is the Profile_Rule the body set (NULL if none). Pure. */
ztp_next_t ztp_answer_next(int status, int hops, int auths, const char *current_rule, const char *new_rule);

/* Reads a flat profile (XML). Returns 0 and the text of its Profile_Rule
 * (malloc'ed, or NULL when it sets none), or -1 when the body is not
 * well-formed XML. */
int ztp_flat_profile_rule(const char *body, size_t len, char **rule);

#endif
