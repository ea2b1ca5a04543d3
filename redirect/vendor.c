/*
 * Which phone asks /boot, and for which MAC: the file names each vendor's
 * phone asks a provisioning server for at its first boot, its User-Agent
 * (useragent.c) and the maker's OUIs.
 *
 * The OUI tables hold only prefixes registered to the vendor in the IEEE
 * MA-L registry (Debian's ieee-data, oui.csv), checked one by one: a prefix
 * guessed wrong would hand a phone another maker's file.
 */
#include "vendor.h"
#include "mac.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FILE_MAX 96

static const char *const names[ZTP_VENDOR_COUNT] = {"cisco",       "yealink", "poly",   "snom",
                                                    "grandstream", "fanvil",  "gigaset"};

/* IEEE MA-L assignments, upper-case hex, one table per vendor. */
static const char *const oui_cisco[] = {"00562B", "0C1167", "7426AC", "00EBD5", "CC5A53",
                                        "6C8BD3", "F87B20", "2C3124", "5006AB", "0C75BD",
                                        "38ED18", "A0F849", "689CE2", "70DB98", NULL};
static const char *const oui_yealink[] = {"001565", "805EC0", "805E0C", "249AD8", NULL};
static const char *const oui_poly[] = {"0004F2", "64167F", "482567", NULL};
static const char *const oui_snom[] = {"000413", NULL};
static const char *const oui_grandstream[] = {"000B82", "C074AD", "EC74D7", NULL};
static const char *const oui_fanvil[] = {"0C383E", NULL};
static const char *const oui_gigaset[] = {"7C2F80", "589EC6", "002104", NULL};

static const char *const *const ouis[ZTP_VENDOR_COUNT] = {oui_cisco,       oui_yealink, oui_poly,   oui_snom,
                                                          oui_grandstream, oui_fanvil,  oui_gigaset};

const char *ztp_vendor_name(ztp_vendor_t v)
{
    return v > ZTP_VENDOR_NONE && v < ZTP_VENDOR_COUNT ? names[v] : NULL;
}

ztp_vendor_t ztp_vendor_by_name(const char *name)
{
    for (int v = 0; name != NULL && v < ZTP_VENDOR_COUNT; v++)
        if (strcmp(name, names[v]) == 0)
            return (ztp_vendor_t)v;
    return ZTP_VENDOR_NONE;
}

ztp_vendor_t ztp_vendor_by_mac(const char *mac)
{
    if (mac == NULL || strlen(mac) != 12)
        return ZTP_VENDOR_NONE;
    for (int v = 0; v < ZTP_VENDOR_COUNT; v++)
        for (const char *const *o = ouis[v]; *o != NULL; o++)
            if (strncasecmp(mac, *o, 6) == 0)
                return (ztp_vendor_t)v;
    return ZTP_VENDOR_NONE;
}

#define BIT(v) (1u << (v))

/* Whether s[0..12) is a unicast MAC as 12 hex digits; writes it canonical. */
static int mac12(const char *s, size_t avail, char out[13])
{
    uint8_t bin[6];
    if (avail < 12)
        return 0;
    for (int i = 0; i < 12; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    if (ztp_mac_parse(s, 12, bin) != 0)
        return 0;
    ztp_mac_format(bin, out);
    return 1;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* A model or phone type in a file name: letters, digits, '_', '-' and '.'. */
static int token_ok(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return 0;
    return 1;
}

/* The vendors that ask for file name f (n bytes, NUL-terminated), its MAC
 * when the name carries one, and whether it is the Poly master's ztp file. */
static unsigned classify(const char *f, size_t n, char mac[13], int *poly_ztp)
{
    mac[0] = '\0';
    *poly_ztp = 0;
    if (strcasecmp(f, "000000000000.cfg") == 0)
        return BIT(ZTP_VENDOR_POLY);
    if (strcasecmp(f, "y000000000000.boot") == 0)
        return BIT(ZTP_VENDOR_YEALINK);
    if (n == 17 && starts_with(f, "y0000000000") && isalnum((unsigned char)f[11]) &&
        isalnum((unsigned char)f[12]) && ends_with(f, n, ".cfg"))
        return BIT(ZTP_VENDOR_YEALINK);
    if (mac12(f, n, mac)) {
        const char *rest = f + 12;
        if (strcasecmp(rest, ".boot") == 0)
            return BIT(ZTP_VENDOR_YEALINK);
        if (strcasecmp(rest, "-ztp.cfg") == 0)
            return *poly_ztp = 1, BIT(ZTP_VENDOR_POLY);
        if (strcasecmp(rest, ".cfg") == 0)
            return BIT(ZTP_VENDOR_YEALINK) | BIT(ZTP_VENDOR_POLY) | BIT(ZTP_VENDOR_FANVIL);
        if (strcasecmp(rest, ".xml") == 0)
            return BIT(ZTP_VENDOR_CISCO) | BIT(ZTP_VENDOR_SNOM) | BIT(ZTP_VENDOR_GIGASET);
        mac[0] = '\0';
        return 0;
    }
    if (starts_with(f, "cfg")) { /* Grandstream: cfg{mac}, cfg{mac}.xml, cfg{model}.xml, cfg.xml */
        if (mac12(f + 3, n - 3, mac) && (n == 15 || strcasecmp(f + 15, ".xml") == 0))
            return BIT(ZTP_VENDOR_GRANDSTREAM);
        mac[0] = '\0';
        if (ends_with(f, n, ".xml") && (n == 7 || token_ok(f + 3, n - 7)))
            return BIT(ZTP_VENDOR_GRANDSTREAM);
        return 0;
    }
    if (ends_with(f, n, ".htm") && n > 17 && f[n - 17] == '-' && mac12(f + n - 16, 12, mac) &&
        token_ok(f, n - 17)) /* snom{model}-{MAC}.htm, {phoneType}-{mac}.htm */
        return starts_with(f, "snom") ? BIT(ZTP_VENDOR_SNOM) : BIT(ZTP_VENDOR_GIGASET);
    mac[0] = '\0';
    if (starts_with(f, "snom") && ends_with(f, n, ".htm") && token_ok(f + 4, n - 8))
        return BIT(ZTP_VENDOR_SNOM);
    if (starts_with(f, "spa") && ends_with(f, n, ".cfg") && token_ok(f + 3, n - 7))
        return BIT(ZTP_VENDOR_CISCO);
    if (starts_with(f, "f0") && ends_with(f, n, ".cfg") && token_ok(f + 2, n - 6))
        return BIT(ZTP_VENDOR_FANVIL); /* Fanvil's common file: f0{model}hw{version}.cfg */
    if (ends_with(f, n, ".xml") && token_ok(f, n - 4))
        return BIT(ZTP_VENDOR_CISCO); /* $PSN.xml */
    return 0;
}

int ztp_vendor_recognize(const char *file, size_t len, const ztp_ua_t *ua, ztp_boot_target_t *out)
{
    char f[FILE_MAX + 1];
    unsigned vendors;
    ztp_vendor_t by_ua = ztp_vendor_by_name(ua->vendor), v = ZTP_VENDOR_NONE;

    memset(out, 0, sizeof(*out));
    out->vendor = ZTP_VENDOR_NONE;
    if (len == 0 || len > FILE_MAX || memchr(file, '\0', len) != NULL)
        return -1;
    memcpy(f, file, len);
    f[len] = '\0';
    if ((vendors = classify(f, len, out->mac, &out->poly_ztp)) == 0)
        return -1;
    if (out->mac[0] == '\0')
        memcpy(out->mac, ua->mac, sizeof(out->mac));
    if (out->mac[0] == '\0' && vendors == BIT(ZTP_VENDOR_POLY) && !out->poly_ztp &&
        (by_ua == ZTP_VENDOR_NONE || by_ua == ZTP_VENDOR_POLY)) {
        out->vendor = ZTP_VENDOR_POLY; /* 000000000000.cfg: the only Poly name without a MAC */
        out->poly_any = 1;
        return 0;
    }
    if (out->mac[0] == '\0')
        return -1;
    if (by_ua != ZTP_VENDOR_NONE)
        v = vendors & BIT(by_ua) ? by_ua : ZTP_VENDOR_NONE;
    else if ((vendors & (vendors - 1)) == 0)
        v = (ztp_vendor_t)__builtin_ctz(vendors);
    else if ((v = ztp_vendor_by_mac(out->mac)) != ZTP_VENDOR_NONE && !(vendors & BIT(v)))
        v = ZTP_VENDOR_NONE;
    out->vendor = v;
    return v == ZTP_VENDOR_NONE ? -1 : 0;
}

static void upper(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

int ztp_vendor_first_file(ztp_vendor_t v, int i, const char *mac, const char *model, const char *firmware,
                          char *out, size_t cap)
{
    char MAC[13], series[48], low[48];
    int n = -1;

    snprintf(MAC, sizeof(MAC), "%s", mac);
    upper(MAC);
    snprintf(low, sizeof(low), "%s", model);
    lower(low);
    switch (v) {
    case ZTP_VENDOR_CISCO:
        ztp_ua_series(model, series, sizeof(series));
        n = i == 0   ? snprintf(out, cap, "%s.xml", series)
            : i == 1 ? snprintf(out, cap, "%s.xml", mac)
            : i == 2 ? snprintf(out, cap, "spa%s.cfg", series)
                     : -1;
        break;
    case ZTP_VENDOR_YEALINK: /* the first field of Yealink's firmware version is the model's code */
        n = i == 0   ? snprintf(out, cap, "%s.boot", mac)
            : i == 1 ? snprintf(out, cap, "y000000000000.boot")
            : i == 2 ? snprintf(out, cap, "y0000000000%02d.cfg", firmware ? atoi(firmware) % 100 : 0)
            : i == 3 ? snprintf(out, cap, "%s.cfg", mac)
                     : -1;
        break;
    case ZTP_VENDOR_POLY:
        n = i == 0 ? snprintf(out, cap, "%s.cfg", MAC) : i == 1 ? snprintf(out, cap, "000000000000.cfg") : -1;
        break;
    case ZTP_VENDOR_SNOM:
        n = i == 0   ? snprintf(out, cap, "snom%s.htm", model)
            : i == 1 ? snprintf(out, cap, "%s.xml", mac)
            : i == 2 ? snprintf(out, cap, "snom%s-%s.htm", model, MAC)
                     : -1;
        break;
    case ZTP_VENDOR_GRANDSTREAM:
        n = i == 0   ? snprintf(out, cap, "cfg%s", mac)
            : i == 1 ? snprintf(out, cap, "cfg%s.xml", mac)
            : i == 2 ? snprintf(out, cap, "cfg%s.xml", low)
            : i == 3 ? snprintf(out, cap, "cfg.xml")
                     : -1;
        break;
    case ZTP_VENDOR_FANVIL:
        n = i == 0   ? snprintf(out, cap, "%s.cfg", mac)
            : i == 1 ? snprintf(out, cap, "f0%shw1.100.cfg", model)
                     : -1;
        break;
    case ZTP_VENDOR_GIGASET:
        n = i == 0   ? snprintf(out, cap, "%s.xml", MAC)
            : i == 1 ? snprintf(out, cap, "%s-%s.htm", model, mac)
                     : -1;
        break;
    default: break;
    }
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}
