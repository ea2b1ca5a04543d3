#ifndef ZTP_BOOTCFG_H
#define ZTP_BOOTCFG_H

#include "../services/buf.h"
#include "vendor.h"

/* What a /boot answer is said about: the phone and its provider's URL for
 * its vendor (macros already expanded). */
typedef struct ztp_bootcfg_facts {
    const char *mac; /* 12 lower-case hex digits; "" for Poly's master file to every phone */
    const char *url; /* an absolute http or https URL, as the profile holds it after expansion */
} ztp_bootcfg_facts_t;

/* Appends to b the answer a vendor's phone gets (Cisco excepted: profile.c
 * renders its flat profile) and returns its content type. poly_ztp chooses
 * between Poly's master file and the configuration file it names. Every
 * byte of the URL that the format could read as markup, a line break or a
 * separator is escaped for that format: the answer says nothing else,
 * whatever the URL holds. Pure. */
const char *ztp_bootcfg_render(ztp_buf_t *b, ztp_vendor_t v, int poly_ztp, const ztp_bootcfg_facts_t *f);

#endif
