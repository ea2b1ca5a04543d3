#ifndef ZTP_PHONE_VENDOR_H
#define ZTP_PHONE_VENDOR_H

#include <stddef.h>

#include "../../redirect/vendor.h"
#include "rule.h"

/* The model and firmware a vendor's phone in a box says it is, unless told. */
void ztp_phone_vendor_defaults(ztp_vendor_t v, const char **model, const char **firmware);

/* The User-Agent a vendor's phone sends (the forms useragent.c reads). */
void ztp_phone_user_agent(ztp_vendor_t v, const ztp_phone_id_t *id, char *out, size_t cap);

/* What a vendor's phone makes of a 200 answer to one of its first files. */
typedef struct ztp_first_answer {
    char *provisioning_url; /* the provider's URL the answer names, or NULL (a Poly master) */
    char *next_url;         /* what the phone asks for next */
} ztp_first_answer_t;

/* Reads the answer `body` to the first file asked at file_url as the
 * vendor's phone does: the provisioning URL it names and the request that
 * follows (the provider's file for this phone: the URL itself, or when it
 * names a directory, the vendor's first file there; for a Poly master, the
 * file it names, beside file_url). Returns 0 (out's strings malloc'ed), or
 * -1 when the body is not that vendor's answer. Pure. */
int ztp_phone_read_first(ztp_vendor_t v, const char *file_url, const char *body, size_t len,
                         const ztp_phone_id_t *id, ztp_first_answer_t *out);

void ztp_first_answer_free(ztp_first_answer_t *a);

#endif
