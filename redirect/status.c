#include "status.h"

#include <string.h>

static const char *const status_names[ZTP_STATUS_COUNT] = {"open",     "pending", "custom_pending",
                                                           "acquired", "aborted", "unavailable"};
static const char *const event_names[ZTP_EVENT_COUNT] = {
    "claim",           "ask_with_profile", "ask_no_profile", "ask_released",
    "report_acquired", "report_aborted",   "report_open",    "redeem"};

static int claimed(ztp_status_t s)
{
    return s != ZTP_STATUS_NONE && s != ZTP_STATUS_UNAVAILABLE;
}

ztp_status_t ztp_status_next(ztp_status_t from, ztp_event_t event)
{
    switch (event) {
    case ZTP_EVENT_CLAIM: return ZTP_STATUS_OPEN;
    case ZTP_EVENT_REDEEM: return ZTP_STATUS_CUSTOM_PENDING;
    case ZTP_EVENT_ASK_WITH_PROFILE:
        /* acquired/aborted asking again were factory-reset: served like any other */
        return from == ZTP_STATUS_NONE ? ZTP_STATUS_NONE : ZTP_STATUS_CUSTOM_PENDING;
    case ZTP_EVENT_ASK_NO_PROFILE: return from == ZTP_STATUS_NONE ? ZTP_STATUS_NONE : ZTP_STATUS_PENDING;
    case ZTP_EVENT_ASK_RELEASED: return from == ZTP_STATUS_NONE ? ZTP_STATUS_NONE : ZTP_STATUS_UNAVAILABLE;
    case ZTP_EVENT_REPORT_ACQUIRED: return claimed(from) ? ZTP_STATUS_ACQUIRED : ZTP_STATUS_NONE;
    case ZTP_EVENT_REPORT_ABORTED: return claimed(from) ? ZTP_STATUS_ABORTED : ZTP_STATUS_NONE;
    case ZTP_EVENT_REPORT_OPEN: return claimed(from) ? ZTP_STATUS_OPEN : ZTP_STATUS_NONE;
    default: return ZTP_STATUS_NONE;
    }
}

const char *ztp_status_name(ztp_status_t s)
{
    return s >= 0 && s < ZTP_STATUS_COUNT ? status_names[s] : "none";
}

const char *ztp_event_name(ztp_event_t e)
{
    return e >= 0 && e < ZTP_EVENT_COUNT ? event_names[e] : "?";
}

ztp_status_t ztp_status_from_name(const char *name)
{
    for (int i = 0; i < ZTP_STATUS_COUNT; i++)
        if (strcmp(name, status_names[i]) == 0)
            return (ztp_status_t)i;
    return ZTP_STATUS_NONE;
}
