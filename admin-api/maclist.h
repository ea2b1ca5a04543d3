#ifndef ZTP_MACLIST_H
#define ZTP_MACLIST_H

#include <jansson.h>

#include "../services/buf.h"

/* The most MACs one request may name (re-point, transfers). */
#define ZTP_MACLIST_MAX 100000

/* Reads the array `field` of body (from min to ZTP_MACLIST_MAX MACs in any
 * spelling of the contract) into out as comma-joined canonical MACs, and
 * adds an error for each bad entry ("macs[3]", at most 100 of them) and,
 * with reject_repeats, for each MAC named twice. Returns the number of
 * MACs, or -1 after adding errors. The caller owns out (ztp_buf_free). */
long ztp_maclist_read(json_t *body, const char *field, size_t min, int reject_repeats, ztp_buf_t *out,
                      json_t *errors);

#endif
