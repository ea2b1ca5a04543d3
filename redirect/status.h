#ifndef ZTP_STATUS_H
#define ZTP_STATUS_H

/* The customization status of a device (the contract's section 2). */
typedef enum {
    ZTP_STATUS_NONE = -1, /* a device not yet known */
    ZTP_STATUS_OPEN,
    ZTP_STATUS_PENDING,
    ZTP_STATUS_CUSTOM_PENDING,
    ZTP_STATUS_ACQUIRED,
    ZTP_STATUS_ABORTED,
    ZTP_STATUS_UNAVAILABLE,
    ZTP_STATUS_COUNT
} ztp_status_t;

/* What can happen to a device. */
typedef enum {
    ZTP_EVENT_CLAIM,            /* a provider claims it */
    ZTP_EVENT_ASK_WITH_PROFILE, /* the phone asks; its provider set a profile */
    ZTP_EVENT_ASK_NO_PROFILE,   /* the phone asks; claimed, no profile yet */
    ZTP_EVENT_ASK_RELEASED,     /* the phone asks; nobody claims it */
    ZTP_EVENT_REPORT_ACQUIRED,  /* the provider reports what it saw */
    ZTP_EVENT_REPORT_ABORTED,
    ZTP_EVENT_REPORT_OPEN,
    ZTP_EVENT_REDEEM, /* an activation or short code binds it */
    ZTP_EVENT_COUNT
} ztp_event_t;

/* The status after `event` happens to a device in `from`, or ZTP_STATUS_NONE
 * when that event cannot happen to it. Pure; the single source of truth,
 * copied into the database's status_transitions by `ztpd migrate`. */
ztp_status_t ztp_status_next(ztp_status_t from, ztp_event_t event);

/* Names as the API and the database spell them ("custom_pending"). */
const char *ztp_status_name(ztp_status_t s);
const char *ztp_event_name(ztp_event_t e);

/* The status named `name`, or ZTP_STATUS_NONE. */
ztp_status_t ztp_status_from_name(const char *name);

#endif
