#ifndef ZTP_CONTACTS_H
#define ZTP_CONTACTS_H

#include <stddef.h>

/* What one redirect request tells of the phone (all printable ASCII). */
typedef struct ztp_contact {
    const char *mac;  /* canonical */
    const char *addr; /* source address */
    const char *ua;   /* cleaned User-Agent, or NULL */
    const char *vendor;
    const char *model;    /* or NULL */
    const char *firmware; /* or NULL */
} ztp_contact_t;

/* The answer for one contact once its batch has committed: ok is 0 when the
 * database could not be reached (answer 503); outcome is "ok", "unknown",
 * "released" or "no_profile"; rule, upgrade and params (JSON text) are set
 * for "ok". The strings live until the callback returns. */
typedef void (*ztp_contact_cb)(void *arg, int ok, const char *outcome, const char *rule, const char *upgrade,
                               const char *params);

/* Records a contact and looks its device up, together with every other
 * contact of this thread that arrives while earlier batches are in flight:
 * one statement and one commit for the whole batch. Copies c. */
void ztp_contacts_record(const ztp_contact_t *c, ztp_contact_cb cb, void *arg);

#endif
