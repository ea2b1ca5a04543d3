#ifndef ZTP_MAC_H
#define ZTP_MAC_H

#include <stddef.h>
#include <stdint.h>

/* Parses a unicast MAC-48 in one of the accepted spellings: 00562b043615,
 * 00:56:2b:04:36:15, 00-56-2B-04-36-15, 0056.2b04.3615 (either case, one
 * separator kind). Returns 0, or -1 for anything else, multicast and
 * broadcast included. */
int ztp_mac_parse(const char *s, size_t len, uint8_t out[6]);

/* The canonical text: 12 lower-case hex digits and a NUL. */
void ztp_mac_format(const uint8_t mac[6], char out[13]);

#endif
