/*
 * The first file each vendor's phone gets from /boot: its provider's URL in
 * the vendor's own format, and where the vendor allows it, the settings that
 * keep DHCP from pointing the phone elsewhere on its next boot. Each
 * renderer follows the vendor's administrator documentation, named above
 * it; the contract's table (section 3) fixes the shape.
 *
 * The URL has passed validation (no quotes, '<', '&' or line breaks), but
 * the renderers do not rely on it: every byte a format could misread is
 * percent-encoded in the URL first (which leaves it the same URL), then
 * escaped for the format.
 */
#include "bootcfg.h"

#include <ctype.h>
#include <string.h>

/* Percent-encodes what no URL needs raw and some format reads as syntax:
 * controls, space, DEL, bytes past ASCII, quotes, angle brackets, backslash
 * and backquote. */
static void safe_url(ztp_buf_t *out, const char *url)
{
    for (const unsigned char *p = (const unsigned char *)url; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f || strchr("\"'<>\\`", *p) != NULL)
            ztp_buf_printf(out, "%%%02X", *p);
        else
            ztp_buf_append(out, (const char *)p, 1);
    }
    if (out->p == NULL)
        ztp_buf_append(out, "", 0);
}

/* The URL's scheme in upper case ("HTTP", "HTTPS") and what follows "://". */
static const char *split_scheme(const char *url, char scheme[8])
{
    const char *sep = strstr(url, "://");
    size_t n = sep ? (size_t)(sep - url) : 0;
    if (sep == NULL || n >= 8) {
        strcpy(scheme, "HTTP");
        return url;
    }
    for (size_t i = 0; i < n; i++)
        scheme[i] = (char)toupper((unsigned char)url[i]);
    scheme[n] = '\0';
    return sep + 3;
}

static void xml_attr(ztp_buf_t *b, const char *name, const char *value)
{
    ztp_buf_printf(b, " %s=\"", name);
    ztp_buf_xml_escaped(b, value);
    ztp_buf_puts(b, "\"");
}

/* Yealink Auto Provisioning Guide (T2/T4 series, "Editing MAC-Oriented CFG
 * File" and "Obtaining the Provisioning Server Address"): a text file that
 * starts with #!version:1.0.0.1 and holds "key = value" lines; the server
 * URL is static.auto_provision.server.url; DHCP options and SIP PnP each
 * have a switch that, off, leaves the phone with the URL stored in flash. */
static void yealink(ztp_buf_t *b, const char *url)
{
    ztp_buf_puts(b, "#!version:1.0.0.1\n");
    ztp_buf_printf(b, "static.auto_provision.server.url = %s\n", url);
    ztp_buf_puts(b, "static.auto_provision.dhcp_option.enable = 0\n"
                    "static.auto_provision.pnp_enable = 0\n");
}

/* Poly UC Software administrator guide ("Master Configuration File",
 * "Device Parameters"): the master file {MAC}.cfg or 000000000000.cfg is an
 * APPLICATION element whose CONFIG_FILES lists the files to load next. No
 * APP_FILE_PATH: the phone keeps its software instead of asking /boot for
 * one it does not serve. Without a MAC (000000000000.cfg: nothing in the
 * request names the phone) the name is written with the guide's
 * [PHONE_MAC_ADDRESS], which the phone replaces with its own MAC. */
static void poly_master(ztp_buf_t *b, const char *mac)
{
    char name[32];
    int i;
    for (i = 0; i < 12 && mac[i]; i++)
        name[i] = (char)toupper((unsigned char)mac[i]);
    strcpy(name + i, "-ztp.cfg");
    if (i == 0)
        strcpy(name, "[PHONE_MAC_ADDRESS]-ztp.cfg");
    ztp_buf_puts(b, "<?xml version=\"1.0\" standalone=\"yes\"?>\n<APPLICATION");
    xml_attr(b, "APP_FILE_PATH", "");
    xml_attr(b, "CONFIG_FILES", name);
    ztp_buf_puts(b,
                 " MISC_FILES=\"\" LOG_FILE_DIRECTORY=\"\" OVERRIDES_DIRECTORY=\"\" CONTACTS_DIRECTORY=\"\""
                 " LICENSE_DIRECTORY=\"\"/>\n");
}

/* The same guide: device.* parameters apply only with device.set="1" and
 * each its own .set="1"; device.prov.serverType names the protocol and
 * device.prov.serverName the server and path; device.dhcp.bootSrvUseOpt
 * "Static" makes the phone use that server rather than DHCP's. */
static void poly_config(ztp_buf_t *b, const char *url)
{
    char scheme[8];
    const char *rest = split_scheme(url, scheme);
    ztp_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<PHONE_CONFIG>\n  <ALL");
    xml_attr(b, "device.set", "1");
    xml_attr(b, "device.prov.serverType.set", "1");
    xml_attr(b, "device.prov.serverType", scheme);
    xml_attr(b, "device.prov.serverName.set", "1");
    xml_attr(b, "device.prov.serverName", rest);
    xml_attr(b, "device.dhcp.bootSrvUseOpt.set", "1");
    xml_attr(b, "device.dhcp.bootSrvUseOpt", "Static");
    ztp_buf_puts(b, "/>\n</PHONE_CONFIG>\n");
}

/* snom "Setting Files" (XML format, firmware 7 and later) and the mass
 * deployment FAQ: <settings><phone-settings> holds one element per
 * setting, perm="R" makes it read-only to the user; setting_server is the
 * URL of the settings the phone loads next ({mac} in it is the phone's).
 * No documented snom switch to ignore DHCP's server was found: none is
 * sent rather than a guessed one. */
static void snom(ztp_buf_t *b, const char *url)
{
    ztp_buf_puts(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings>\n  <phone-settings>\n"
                    "    <setting_server perm=\"R\">");
    ztp_buf_xml_escaped(b, url);
    ztp_buf_puts(b, "</setting_server>\n  </phone-settings>\n</settings>\n");
}

/* Grandstream SIP Device Provisioning Guide and the devices' user manuals
 * ("Configuration File Download"): <gs_provision version="1"> with the
 * MAC and a <config version="1"> of P-values; P212 is "Config Upgrade
 * Via" (0 TFTP, 1 HTTP, 2 HTTPS), P237 the config server path (no
 * scheme), P145 "Allow DHCP Option 66 to override server" (0: no). */
static void grandstream(ztp_buf_t *b, const char *mac, const char *url)
{
    char scheme[8];
    const char *rest = split_scheme(url, scheme);
    ztp_buf_printf(b,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<gs_provision version=\"1\">\n"
                   "  <mac>%s</mac>\n  <config version=\"1\">\n",
                   mac);
    ztp_buf_printf(b, "    <P212>%d</P212>\n    <P237>", strcmp(scheme, "HTTPS") == 0 ? 2 : 1);
    ztp_buf_xml_escaped(b, rest);
    ztp_buf_puts(b, "</P237>\n    <P145>0</P145>\n  </config>\n</gs_provision>\n");
}

/* Fanvil VoIP Auto Provision Standard ("Auto Provision Settings
 * Parameters", "DHCP option parameters", "PnP parameters"): a text file
 * opening with <<VOIP CONFIG FILE>>, modules in <...> headers and
 * "Name :value" lines; the AUTOUPDATE module names the server (host, port
 * and path), the file to load there and the protocol (3 HTTP, 4 HTTPS);
 * DHCP Option and PNP Enable at 0 keep DHCP and PnP from replacing them. */
static void fanvil(ztp_buf_t *b, const char *url)
{
    char scheme[8];
    const char *rest = split_scheme(url, scheme), *slash = strrchr(rest, '/');
    size_t server_len = slash ? (size_t)(slash - rest) : strlen(rest);
    ztp_buf_puts(b, "<<VOIP CONFIG FILE>>Version:2.0000000000\n\n<AUTOUPDATE CONFIG MODULE>\n"
                    "Download Server IP :");
    ztp_buf_append(b, rest, server_len);
    ztp_buf_printf(b, "\nConfig File Name   :%s\n", slash ? slash + 1 : "");
    ztp_buf_printf(b, "Download Protocol  :%d\n", strcmp(scheme, "HTTPS") == 0 ? 4 : 3);
    ztp_buf_puts(b, "DHCP Option        :0\nPNP Enable         :0\n<<END OF FILE>>\n");
}

/* Gigaset provisioning (teamwork.gigaset.com, "Maxwell provisioning
 * version 1.1", "The XML provisioning file"): <provisioning
 * version="1.1"> holding <param name value/> elements;
 * Provisioning.global.ProvisioningServer is where the phone goes next. No
 * documented switch to ignore DHCP's server was found, so none is sent. */
static void gigaset(ztp_buf_t *b, const char *url)
{
    ztp_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<provisioning version=\"1.1\">\n  <param");
    xml_attr(b, "name", "Provisioning.global.ProvisioningServer");
    xml_attr(b, "value", url);
    ztp_buf_puts(b, "/>\n</provisioning>\n");
}

const char *ztp_bootcfg_render(ztp_buf_t *b, ztp_vendor_t v, int poly_ztp, const ztp_bootcfg_facts_t *f)
{
    ztp_buf_t u = {0};
    const char *ctype = "application/xml";

    safe_url(&u, f->url);
    switch (v) {
    case ZTP_VENDOR_YEALINK:
        yealink(b, u.p);
        ctype = "text/plain";
        break;
    case ZTP_VENDOR_POLY: poly_ztp ? poly_config(b, u.p) : poly_master(b, f->mac); break;
    case ZTP_VENDOR_SNOM: snom(b, u.p); break;
    case ZTP_VENDOR_GRANDSTREAM: grandstream(b, f->mac, u.p); break;
    case ZTP_VENDOR_FANVIL:
        fanvil(b, u.p);
        ctype = "text/plain";
        break;
    case ZTP_VENDOR_GIGASET: gigaset(b, u.p); break;
    default: ctype = NULL; break;
    }
    ztp_buf_free(&u);
    return ctype;
}
