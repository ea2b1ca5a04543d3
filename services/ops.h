#ifndef ZTP_OPS_H
#define ZTP_OPS_H

#include "router.h"

/* GET /healthz: 200 while the process runs. */
void ztp_ops_healthz(h2o_req_t *req, const ztp_match_t *m);
/* GET /readyz: 200 when the database answers, else 503. */
void ztp_ops_readyz(h2o_req_t *req, const ztp_match_t *m);
/* GET /metrics: Prometheus text exposition. */
void ztp_ops_metrics(h2o_req_t *req, const ztp_match_t *m);

#endif
