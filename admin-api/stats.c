/* /v1/stats: what the console's overview charts. */
#include "stats.h"

ZTP_SQL(SQL_STATS, 0, "SELECT * FROM ztp_stats()");

void ztp_stats_get(h2o_req_t *req, const ztp_auth_t *who, const ztp_match_t *m)
{
    ztp_tenant_call(req, who, &SQL_STATS, NULL, NULL, NULL);
}
