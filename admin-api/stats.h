#ifndef ZTP_STATS_H
#define ZTP_STATS_H

#include "tenant.h"

/* GET /v1/stats: device counts by status and contacts per hour for the
 * last 7 days, from counters kept by triggers (no scan of devices). */
void ztp_stats_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m);

#endif
