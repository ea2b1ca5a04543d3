#ifndef ZTP_VENDOR_H
#define ZTP_VENDOR_H

#include <stddef.h>

#include "useragent.h"

/* The phone makers /boot answers, in the order of the contract's table. */
typedef enum ztp_vendor {
    ZTP_VENDOR_NONE = -1,
    ZTP_VENDOR_CISCO,
    ZTP_VENDOR_YEALINK,
    ZTP_VENDOR_POLY,
    ZTP_VENDOR_SNOM,
    ZTP_VENDOR_GRANDSTREAM,
    ZTP_VENDOR_FANVIL,
    ZTP_VENDOR_GIGASET,
    ZTP_VENDOR_COUNT
} ztp_vendor_t;

/* The vendor's name as the contract writes it ("poly"); NULL for NONE. */
const char *ztp_vendor_name(ztp_vendor_t v);

/* The vendor of a name (as ztp_vendor_name writes it), or NONE. */
ztp_vendor_t ztp_vendor_by_name(const char *name);

/* The vendor whose registered OUI begins this canonical MAC, or NONE. */
ztp_vendor_t ztp_vendor_by_mac(const char *mac);

/* What a request to /boot/{file} is for. */
typedef struct ztp_boot_target {
    ztp_vendor_t vendor;
    char mac[13]; /* canonical */
    int poly_ztp; /* the file Poly's master file names: the answer is the config itself */
    /* Poly's 000000000000.cfg, asked without a MAC (Poly's User-Agent has
     * none): the master file every Poly phone may have, naming the phone's
     * own file by Poly's macro; mac is empty */
    int poly_any;
} ztp_boot_target_t;

/* Settles the vendor and MAC of a request for `file` (len bytes, any
 * content) from a phone whose User-Agent says `ua`: the vendor by the
 * User-Agent, else by the file name, else by the MAC's prefix among the
 * vendors that ask for that name; the MAC by the file name, else by the
 * User-Agent. Returns 0, or -1 when the file is not one that vendor asks
 * for or no MAC is known (answer 404), Poly's 000000000000.cfg excepted
 * (poly_any). Pure. */
int ztp_vendor_recognize(const char *file, size_t len, const ztp_ua_t *ua, ztp_boot_target_t *out);

/* The i-th file (from 0) that a vendor's phone with this MAC, model and
 * firmware asks for at its first boot, in the order of the contract's
 * table, written into out; returns 0, or -1 past the last. The file a Poly
 * master names comes from the master, not from here. Pure (for ztp-phone). */
int ztp_vendor_first_file(ztp_vendor_t v, int i, const char *mac, const char *model, const char *firmware,
                          char *out, size_t cap);

#endif
