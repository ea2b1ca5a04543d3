#ifndef ZTP_NETGUARD_H
#define ZTP_NETGUARD_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Outgoing requests to addresses that providers choose (webhooks) must not
 * reach this service's own network: loopback, private, link-local,
 * unspecified, multicast, reserved and documentation ranges are refused, and
 * IPv6 forms that embed an IPv4 address (v4-mapped, 6to4, NAT64) are judged
 * by that address.
 */

/* Whether sa (AF_INET or AF_INET6) is a public unicast address. */
int ztp_netguard_addr_public(const struct sockaddr *sa);

/* The parts of a webhook URL that matter: scheme, host (without IPv6
 * brackets) and port. */
typedef struct ztp_netguard_url {
    char scheme[8];
    char host[256];
    char port[8];
} ztp_netguard_url_t;

/* Parses an absolute http(s) URL of at most 2048 characters without
 * credentials; https only unless allow_http. Returns 0, or -1 with a
 * sentence in err. */
int ztp_netguard_parse_url(const char *url, int allow_http, ztp_netguard_url_t *out, char *err, size_t errlen);

/* Resolves host (blocking: call off the event loops) and checks that every
 * address it names is public, unless allow_private. Returns 0, or -1 with a
 * sentence in err. */
int ztp_netguard_check_host(const char *host, const char *port, int allow_private, char *err, size_t errlen);

#endif
