#ifndef ZTP_CONTACTS_H
#define ZTP_CONTACTS_H

#include <stddef.h>

#include "profcache.h"

/* What one redirect or boot request tells of the phone (all printable ASCII). */
typedef struct ztp_contact {
    const char *mac;  /* canonical */
    const char *addr; /* source address */
    const char *ua;   /* cleaned User-Agent, or NULL */
    const char *vendor;
    const char *model;    /* or NULL */
    const char *serial;   /* or NULL: the query's sn, else the User-Agent's */
    const char *firmware; /* or NULL */
    const char *want;     /* /boot: the vendor whose URL the profile must hold to answer, or NULL */
    int certified;        /* a verified device certificate names this MAC (ztp_certmac_names) */
} ztp_contact_t;

typedef enum ztp_contact_outcome {
    ZTP_CONTACT_UNAVAILABLE, /* the database could not be reached: answer 503 */
    ZTP_CONTACT_OK,
    ZTP_CONTACT_UNKNOWN,
    ZTP_CONTACT_RELEASED,
    ZTP_CONTACT_NO_PROFILE, /* no profile, or (want) none with that vendor's URL */
} ztp_contact_outcome_t;

/* The answer for one contact once its batch has committed: for OK, the
 * device's profile (profcache.h), valid until the callback returns. */
typedef struct ztp_contact_result {
    ztp_contact_outcome_t outcome;
    const ztp_profile_answer_t *profile;
} ztp_contact_result_t;

typedef void (*ztp_contact_cb)(void *arg, const ztp_contact_result_t *r);

/* Builds the batch statement from the state machine; call once before the
 * server starts. */
void ztp_contacts_init(void);

/* Records a contact and looks its device up, together with every other
 * contact of this thread that arrives while earlier batches are in flight:
 * one statement and one commit for the whole batch. Copies c. */
void ztp_contacts_record(const ztp_contact_t *c, ztp_contact_cb cb, void *arg);

#endif
