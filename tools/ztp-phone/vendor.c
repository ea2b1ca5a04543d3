/*
 * The first boot of a phone that is not a Cisco: it asks its provisioning
 * server for its vendor's files, reads the one answered in its vendor's
 * format, and goes on to the provisioning URL that names. The pure parts;
 * main.c drives the requests.
 */
#include "vendor.h"

#include <ctype.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ztp_phone_vendor_defaults(ztp_vendor_t v, const char **model, const char **firmware)
{
    static const char *const models[ZTP_VENDOR_COUNT][2] = {
        {"CP-8845-3PCC", "11.3.7MPP"}, {"SIP-T46G", "28.72.0.1"}, {"VVX_400", "4.1.4.7430"},
        {"D785", "10.1.33.33"},        {"GXP1628", "1.0.4.138"},  {"X4", "2.10.2.6887"},
        {"N720", "70.089.00.000.000"},
    };
    if (v <= ZTP_VENDOR_NONE || v >= ZTP_VENDOR_COUNT)
        v = ZTP_VENDOR_CISCO;
    *model = models[v][0];
    *firmware = models[v][1];
}

void ztp_phone_user_agent(ztp_vendor_t v, const ztp_phone_id_t *id, char *out, size_t cap)
{
    const char *m = id->mac;
    char MAC[13];
    for (int i = 0; i < 13; i++)
        MAC[i] = (char)toupper((unsigned char)m[i]);
    switch (v) {
    case ZTP_VENDOR_YEALINK:
        snprintf(out, cap, "Yealink %s %s %.2s:%.2s:%.2s:%.2s:%.2s:%.2s", id->model, id->firmware, m, m + 2,
                 m + 4, m + 6, m + 8, m + 10);
        break;
    case ZTP_VENDOR_POLY:
        snprintf(out, cap, "FileTransport PolycomVVX-%s-UA/%s Type/Application", id->model, id->firmware);
        break;
    case ZTP_VENDOR_SNOM:
        snprintf(out, cap, "Mozilla/4.0 (compatible; snom%s-SIP %s %s)", id->model, id->firmware, MAC);
        break;
    case ZTP_VENDOR_GRANDSTREAM:
        snprintf(out, cap, "Grandstream Model HW %s SW %s DevId %s", id->model, id->firmware, m);
        break;
    case ZTP_VENDOR_FANVIL: snprintf(out, cap, "Fanvil %s %s %s", id->model, id->firmware, m); break;
    case ZTP_VENDOR_GIGASET: snprintf(out, cap, "Gigaset %s/%s;%s", id->model, id->firmware, MAC); break;
    default: snprintf(out, cap, "Cisco-%s/%s (%s)", id->model, id->firmware, m); break;
    }
}

/* ---- reading the answers ---- */

typedef struct xml_find {
    ztp_vendor_t vendor;
    char *found[3]; /* what the vendor's answer names: see on_start */
    int in;         /* inside the element whose text is wanted: its slot + 1 */
    ztp_buf_t text;
    int too_long; /* a value over MAX_VALUE: the answer is refused */
} xml_find_t;

/* The longest value read from an answer (a URL, a file name): longer ones,
 * an entity's expansion say, make the answer unusable, as the phone's own
 * buffers would. */
#define MAX_VALUE 4096

static const char *attr(const XML_Char **attrs, const char *name)
{
    for (int i = 0; attrs[i] != NULL; i += 2)
        if (strcmp(attrs[i], name) == 0)
            return attrs[i + 1];
    return NULL;
}

static void keep(xml_find_t *f, int slot, const char *value)
{
    if (value != NULL && strlen(value) > MAX_VALUE)
        f->too_long = 1;
    else if (value != NULL && f->found[slot] == NULL)
        f->found[slot] = strdup(value);
}

/* Slots: Poly 0 CONFIG_FILES, 1 serverType, 2 serverName; snom 0
 * setting_server; Grandstream 0 P212, 1 P237; Gigaset 0 the server. */
static void on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
    xml_find_t *f = data;
    f->in = 0;
    f->text.len = 0;
    if (f->text.p != NULL)
        f->text.p[0] = '\0'; /* an empty element's value is empty, not the last one's */
    switch (f->vendor) {
    case ZTP_VENDOR_POLY:
        if (strcmp(name, "APPLICATION") == 0)
            keep(f, 0, attr(attrs, "CONFIG_FILES"));
        keep(f, 1, attr(attrs, "device.prov.serverType"));
        keep(f, 2, attr(attrs, "device.prov.serverName"));
        break;
    case ZTP_VENDOR_SNOM: f->in = strcmp(name, "setting_server") == 0 ? 1 : 0; break;
    case ZTP_VENDOR_GRANDSTREAM:
        f->in = strcmp(name, "P212") == 0 ? 1 : strcmp(name, "P237") == 0 ? 2 : 0;
        break;
    case ZTP_VENDOR_GIGASET: {
        const char *n = attr(attrs, "name");
        if (strcmp(name, "param") == 0 && n != NULL &&
            strcmp(n, "Provisioning.global.ProvisioningServer") == 0)
            keep(f, 0, attr(attrs, "value"));
        break;
    }
    default: break;
    }
}

static void on_text(void *data, const XML_Char *s, int len)
{
    xml_find_t *f = data;
    if (f->in && f->text.len + (size_t)len > MAX_VALUE)
        f->too_long = 1;
    else if (f->in)
        ztp_buf_append(&f->text, s, (size_t)len);
}

static void on_end(void *data, const XML_Char *name)
{
    xml_find_t *f = data;
    if (f->in)
        keep(f, f->in - 1, f->text.p ? f->text.p : "");
    f->in = 0;
}

static int parse_xml(xml_find_t *f, const char *body, size_t len)
{
    XML_Parser parser = XML_ParserCreate("UTF-8");
    int ok;
    XML_SetUserData(parser, f);
    XML_SetElementHandler(parser, on_start, on_end);
    XML_SetCharacterDataHandler(parser, on_text);
    ok = len <= (size_t)1 << 30 && XML_Parse(parser, body, (int)len, 1) == XML_STATUS_OK;
    XML_ParserFree(parser);
    ztp_buf_free(&f->text);
    return ok && !f->too_long ? 0 : -1;
}

/* The value of "name<sep>value" on a line of its own in text (spaces
 * around both trimmed), malloc'ed, or NULL. */
static char *text_value(const char *body, size_t len, const char *name, char sep)
{
    size_t n = strlen(name);
    for (const char *line = body, *end = body + len; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - line) > n && strncmp(line, name, n) == 0) {
            const char *v = line + n;
            while (v < eol && *v == ' ')
                v++;
            if (v < eol && *v == sep) {
                const char *stop = eol;
                for (v++; v < stop && *v == ' '; v++)
                    ;
                while (stop > v && (stop[-1] == ' ' || stop[-1] == '\r'))
                    stop--;
                return stop - v > MAX_VALUE ? NULL : strndup(v, (size_t)(stop - v));
            }
        }
        line = eol + 1;
    }
    return NULL;
}

static char *join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* "HTTPS" or a Grandstream/Fanvil protocol number -> "https://". */
static const char *scheme_of(ztp_vendor_t v, const char *text)
{
    if (text == NULL)
        return NULL;
    if (v == ZTP_VENDOR_GRANDSTREAM)
        return strcmp(text, "1") == 0 ? "http://" : strcmp(text, "2") == 0 ? "https://" : NULL;
    if (v == ZTP_VENDOR_FANVIL)
        return strcmp(text, "3") == 0 ? "http://" : strcmp(text, "4") == 0 ? "https://" : NULL;
    return strcasecmp(text, "HTTP") == 0 ? "http://" : strcasecmp(text, "HTTPS") == 0 ? "https://" : NULL;
}

/* The provider's file for this phone: the URL with the vendor's own
 * placeholders filled in, and when it names a directory (always, for
 * Poly's server and Grandstream's config path), the vendor's first file
 * there. */
static char *provider_request(ztp_vendor_t v, const char *url, const ztp_phone_id_t *id)
{
    ztp_buf_t b = {0};
    char MAC[13], file[128];
    for (int i = 0; i < 13; i++)
        MAC[i] = (char)toupper((unsigned char)id->mac[i]);
    for (const char *p = url; *p;) {
        if (strncmp(p, "{mac}", 5) == 0) { /* snom */
            ztp_buf_puts(&b, id->mac);
            p += 5;
        } else if (strncmp(p, "%MACD", 5) == 0) { /* Gigaset */
            ztp_buf_puts(&b, MAC);
            p += 5;
        } else {
            ztp_buf_append(&b, p++, 1);
        }
    }
    if ((v == ZTP_VENDOR_POLY || v == ZTP_VENDOR_GRANDSTREAM) && b.len > 0 && b.p[b.len - 1] != '/')
        ztp_buf_puts(&b, "/");
    if (b.len > 0 && b.p[b.len - 1] == '/' &&
        ztp_vendor_first_file(v, 0, id->mac, id->model, id->firmware, file, sizeof(file)) == 0)
        ztp_buf_puts(&b, file);
    return b.p;
}

/* The URL of `file` beside the file at `url` (in its directory). */
static char *beside(const char *url, const char *file)
{
    const char *slash = strrchr(url, '/');
    size_t dir = slash ? (size_t)(slash - url + 1) : strlen(url);
    char *s = malloc(dir + strlen(file) + 1);
    memcpy(s, url, dir);
    strcpy(s + dir, file);
    return s;
}

/* A Poly master's file name with [PHONE_MAC_ADDRESS] replaced by the
 * phone's MAC, as the phone does (malloc'd). */
static char *with_phone_mac(const char *name, const char *mac)
{
    static const char macro[] = "[PHONE_MAC_ADDRESS]";
    const char *at = strstr(name, macro);
    size_t head = at ? (size_t)(at - name) : strlen(name);
    const char *tail = at ? at + sizeof(macro) - 1 : "";
    char *s = malloc(head + strlen(mac) + strlen(tail) + 1);
    if (s == NULL)
        abort();
    memcpy(s, name, head);
    strcpy(s + head, at ? mac : "");
    strcat(s, tail);
    return s;
}

int ztp_phone_read_first(ztp_vendor_t v, const char *file_url, const char *body, size_t len,
                         const ztp_phone_id_t *id, ztp_first_answer_t *out)
{
    xml_find_t f = {.vendor = v};
    char *url = NULL, *a = NULL, *b = NULL, *c = NULL;
    const char *scheme;

    memset(out, 0, sizeof(*out));
    switch (v) {
    case ZTP_VENDOR_YEALINK:
        if (len < 17 || strncmp(body, "#!version:1.0.0.1", 17) != 0)
            return -1;
        url = text_value(body, len, "static.auto_provision.server.url", '=');
        break;
    case ZTP_VENDOR_FANVIL:
        if (len < 20 || strncmp(body, "<<VOIP CONFIG FILE>>", 20) != 0)
            return -1;
        a = text_value(body, len, "Download Server IP", ':');
        b = text_value(body, len, "Config File Name", ':');
        c = text_value(body, len, "Download Protocol", ':');
        if (a != NULL && b != NULL && (scheme = scheme_of(v, c)) != NULL) {
            char *server = join(scheme, a, "/");
            url = join(server, b, "");
            free(server);
        }
        break;
    case ZTP_VENDOR_POLY:
    case ZTP_VENDOR_SNOM:
    case ZTP_VENDOR_GRANDSTREAM:
    case ZTP_VENDOR_GIGASET:
        if (parse_xml(&f, body, len) != 0)
            break;
        if (v == ZTP_VENDOR_POLY && f.found[0] != NULL) { /* a master: on to the first file it names */
            f.found[0][strcspn(f.found[0], ", ")] = '\0';
            char *named = with_phone_mac(f.found[0], id->mac);
            if (named[0] != '\0')
                out->next_url = beside(file_url, named);
            free(named);
        } else if (v == ZTP_VENDOR_POLY && f.found[2] != NULL &&
                   (scheme = scheme_of(v, f.found[1])) != NULL) {
            url = join(scheme, f.found[2], "");
        } else if (v == ZTP_VENDOR_GRANDSTREAM && f.found[1] != NULL &&
                   (scheme = scheme_of(v, f.found[0])) != NULL) {
            url = join(scheme, f.found[1], "");
        } else if ((v == ZTP_VENDOR_SNOM || v == ZTP_VENDOR_GIGASET) && f.found[0] != NULL) {
            url = strdup(f.found[0]);
        }
        break;
    default: break;
    }
    for (int i = 0; i < 3; i++)
        free(f.found[i]);
    free(a);
    free(b);
    free(c);
    if (url != NULL && url[0] != '\0' && out->next_url == NULL) {
        out->provisioning_url = url;
        out->next_url = provider_request(v, url, id);
        return 0;
    }
    free(url);
    return out->next_url != NULL ? 0 : -1;
}

void ztp_first_answer_free(ztp_first_answer_t *a)
{
    free(a->provisioning_url);
    free(a->next_url);
    a->provisioning_url = a->next_url = NULL;
}
