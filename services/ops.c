#include "ops.h"
#include "db.h"
#include "http.h"
#include "metrics.h"
#include "server.h"

#include <stdlib.h>

ZTP_SQL(SQL_READY, 0, "SELECT 1");

void ztp_ops_healthz(h2o_req_t *req, const ztp_match_t *m)
{
    (void)m;
    ztp_http_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void on_ready(void *arg, const ztp_db_res_t *res)
{
    h2o_req_t *req = ztp_http_release(arg);
    if (req == NULL)
        return;
    if (res->status == ZTP_DB_OK)
        ztp_http_json(req, 200, json_pack("{s:s}", "status", "ready"));
    else
        ztp_http_unavailable(req);
}

void ztp_ops_readyz(h2o_req_t *req, const ztp_match_t *m)
{
    ztp_db_unit_t *u = ztp_db_unit_new(ZTP_DB_SHARED, on_ready, ztp_http_hold(req));
    (void)m;
    ztp_db_unit_add(u, &SQL_READY, NULL, NULL);
    ztp_db_submit(ztp_self->db, u);
}

static void gauge(ztp_buf_t *b, const char *name, const char *help, const char *type, uint64_t v)
{
    ztp_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %lu\n", name, help, name, type, name, (unsigned long)v);
}

void ztp_ops_metrics(h2o_req_t *req, const ztp_match_t *m)
{
    ztp_buf_t b = {0};
    ztp_db_stats_t st = {0};
    (void)m;

    ztp_metrics_render(&b);
    for (int i = 0; i < ztp_server_nthreads(); i++)
        ztp_db_pool_stats(ztp_server_thread(i)->db, &st);
    gauge(&b, "ztp_db_connections", "Database connections configured.", "gauge", st.conns_total);
    gauge(&b, "ztp_db_connections_ready", "Database connections ready for queries.", "gauge", st.conns_ready);
    gauge(&b, "ztp_db_pending_units", "Units waiting for a connection.", "gauge", st.pending);
    gauge(&b, "ztp_db_inflight_batches", "Batches sent and not yet answered.", "gauge", st.inflight);
    gauge(&b, "ztp_db_batches_total", "Batches (transactions) sent.", "counter", st.batches);
    gauge(&b, "ztp_db_units_total", "Units (request transactions) answered.", "counter", st.units);
    gauge(&b, "ztp_db_unavailable_total", "Units answered 503: no connection, saturated or timed out.",
          "counter", st.unavailable);
    gauge(&b, "ztp_db_errors_total", "Units the database refused.", "counter", st.errors);
    ztp_http_send(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
    ztp_buf_free(&b);
}
