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

typedef enum {
    ZTP_CONTACT_OK,         /* claimed, with a profile: answer 200 */
    ZTP_CONTACT_UNKNOWN,    /* no such device */
    ZTP_CONTACT_RELEASED,   /* known, owned by nobody */
    ZTP_CONTACT_NO_PROFILE, /* claimed, profile not set yet */
    ZTP_CONTACT_UNAVAILABLE /* the database could not be reached: answer 503 */
} ztp_contact_outcome_t;

/* The answer for one contact once its batch has committed. rule, upgrade,
 * params (JSON text) and token_key (the provider's URL token key, 64 hex
 * digits) are set for ZTP_CONTACT_OK; they live until the callback returns. */
typedef struct ztp_contact_answer {
    ztp_contact_outcome_t outcome;
    const char *rule;
    const char *upgrade;
    const char *params;
    const char *token_key;
} ztp_contact_answer_t;

typedef void (*ztp_contact_cb)(void *arg, const ztp_contact_answer_t *answer);

/* Records a contact and looks its device up, together with every other
 * contact of this thread that arrives while earlier batches are in flight:
 * one statement and one commit for the whole batch. Copies c. */
void ztp_contacts_record(const ztp_contact_t *c, ztp_contact_cb cb, void *arg);

#endif
