/* Lists of MACs in request bodies: bounded, validated one by one, repeats found. */
#include "maclist.h"

#include "../redirect/mac.h"
#include "tenant.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_REPORTED 100

typedef struct entry {
    uint64_t mac;
    size_t index;
} entry_t;

static int by_mac_then_index(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->mac != y->mac)
        return x->mac < y->mac ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Adds an error at field[index] unless MAX_REPORTED are there already. */
static void add_at(json_t *errors, const char *field, size_t index, const char *detail, size_t *reported)
{
    char name[64];
    if (++*reported > MAX_REPORTED)
        return;
    snprintf(name, sizeof(name), "%s[%zu]", field, index);
    ztp_errors_add(errors, name, detail);
}

/* Adds an error for every entry whose MAC an earlier entry named; returns how many. */
static size_t find_repeats(entry_t *e, size_t n, const char *field, json_t *errors, size_t *reported)
{
    size_t repeats = 0;
    qsort(e, n, sizeof(*e), by_mac_then_index);
    for (size_t i = 1; i < n; i++) {
        if (e[i].mac == e[i - 1].mac) {
            char detail[64];
            size_t first = i - 1;
            while (first > 0 && e[first - 1].mac == e[i].mac)
                first--;
            snprintf(detail, sizeof(detail), "repeats %s[%zu]", field, e[first].index);
            add_at(errors, field, e[i].index, detail, reported);
            repeats++;
        }
    }
    return repeats;
}

long ztp_maclist_read(json_t *body, const char *field, size_t min, int reject_repeats, ztp_buf_t *out,
                      json_t *errors)
{
    json_t *list = json_object_get(body, field), *v;
    size_t n = json_array_size(list), i, reported = 0, bad = 0;
    entry_t *e;
    char detail[96];

    if (!json_is_array(list) || n < min || n > ZTP_MACLIST_MAX) {
        snprintf(detail, sizeof(detail), "must be an array of %zu to %d MACs", min, ZTP_MACLIST_MAX);
        ztp_errors_add(errors, field, detail);
        return -1;
    }
    e = malloc(sizeof(*e) * (n ? n : 1));
    if (e == NULL)
        abort();
    json_array_foreach(list, i, v)
    {
        uint8_t mac[6];
        char text[13];
        if (!json_is_string(v) || ztp_mac_parse(json_string_value(v), json_string_length(v), mac) != 0) {
            add_at(errors, field, i, "must be a unicast MAC address", &reported);
            bad++;
            continue;
        }
        ztp_mac_format(mac, text);
        if (out->len > 0)
            ztp_buf_append(out, ",", 1);
        ztp_buf_append(out, text, 12);
        e[i - bad].mac = (uint64_t)mac[0] << 40 | (uint64_t)mac[1] << 32 | (uint64_t)mac[2] << 24 |
                         (uint64_t)mac[3] << 16 | (uint64_t)mac[4] << 8 | mac[5];
        e[i - bad].index = i;
    }
    if (bad == 0 && reject_repeats)
        bad = find_repeats(e, n, field, errors, &reported);
    free(e);
    if (reported > MAX_REPORTED) {
        snprintf(detail, sizeof(detail), "%zu more entries are wrong as well", reported - MAX_REPORTED);
        ztp_errors_add(errors, field, detail);
    }
    return bad ? -1 : (long)n;
}
