#include "mac.h"

#include "../services/buf.h"

/* Reads 12 hex digits from s, skipping the separator positions in `seps`
 * (a bitmask of indexes that must hold `sep`). */
static int read_digits(const char *s, size_t len, char sep, uint32_t seps, uint8_t out[6])
{
    int nibble = 0;
    for (size_t i = 0; i < len; i++) {
        if (seps & (1u << i)) {
            if (s[i] != sep)
                return -1;
            continue;
        }
        int v = ztp_hex_value((unsigned char)s[i]);
        if (v < 0 || nibble == 12)
            return -1;
        if (nibble % 2 == 0)
            out[nibble / 2] = (uint8_t)(v << 4);
        else
            out[nibble / 2] |= (uint8_t)v;
        nibble++;
    }
    return nibble == 12 ? 0 : -1;
}

int ztp_mac_parse(const char *s, size_t len, uint8_t out[6])
{
    int rc;
    const uint32_t every_third = (1u << 2) | (1u << 5) | (1u << 8) | (1u << 11) | (1u << 14);

    if (len == 12)
        rc = read_digits(s, len, 0, 0, out);
    else if (len == 17)
        rc = read_digits(s, len, s[2] == '-' ? '-' : ':', every_third, out);
    else if (len == 14)
        rc = read_digits(s, len, '.', (1u << 4) | (1u << 9), out);
    else
        rc = -1;
    if (rc != 0 || (out[0] & 1) != 0) /* the group bit: multicast and broadcast */
        return -1;
    return 0;
}

void ztp_mac_format(const uint8_t mac[6], char out[13])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        out[2 * i] = digits[mac[i] >> 4];
        out[2 * i + 1] = digits[mac[i] & 15];
    }
    out[12] = '\0';
}
