/*
 * ztpd: migrate | provider create NAME | user invite PROVIDER EMAIL | serve
 *
 * The only file of services/ that knows the handler folders: it registers
 * their routes and wires the commands together.
 */
#include "buf.h"
#include "config.h"
#include "console.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "ops.h"
#include "outbound.h"
#include "router.h"
#include "secret.h"
#include "server.h"
#include "worker.h"

#include "../activation/handler.h"
#include "../admin-api/auth.h"
#include "../admin-api/handlers.h"
#include "../admin-api/sessions.h"
#include "../admin-api/users.h"
#include "../redirect/boot.h"
#include "../redirect/handler.h"
#include "../redirect/status.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_BODY (64 * 1024)

static int usage(void)
{
    fprintf(stderr, "usage: ztpd migrate\n"
                    "       ztpd provider create NAME\n"
                    "       ztpd user invite PROVIDER_ID EMAIL [--role admin|operator|viewer]\n"
                    "       ztpd serve [--listen HOST:PORT] [--threads N]\n"
                    "configuration: DATABASE_URL, ZTP_LISTEN, ZTP_SECRET, ZTP_TLS_LISTEN, ZTP_TLS_CERT, "
                    "ZTP_TLS_KEY (see README.md)\n");
    return 2;
}

/* Connects synchronously (command line only), with a bounded wait. */
static PGconn *connect_cli(const char *url)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {url, "5", "ztpd", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        ztp_log_error("cannot connect to the database: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* The SQL that copies the compiled state machine into status_transitions. */
static char *transitions_sql(void)
{
    ztp_buf_t b = {0};
    ztp_buf_puts(&b, "DELETE FROM status_transitions;\n"
                     "INSERT INTO status_transitions (from_status, event, to_status) VALUES\n");
    int first = 1;
    for (int from = ZTP_STATUS_NONE; from < ZTP_STATUS_COUNT; from++)
        for (int ev = 0; ev < ZTP_EVENT_COUNT; ev++) {
            ztp_status_t to = ztp_status_next((ztp_status_t)from, (ztp_event_t)ev);
            if (to == ZTP_STATUS_NONE)
                continue;
            ztp_buf_printf(&b, "%s('%s', '%s', '%s')", first ? "" : ",\n",
                           ztp_status_name((ztp_status_t)from), ztp_event_name((ztp_event_t)ev),
                           ztp_status_name(to));
            first = 0;
        }
    ztp_buf_puts(&b, ";\n");
    return b.p;
}

static int cmd_migrate(void)
{
    char err[512];
    ztp_config_t *c = &ztp_config;
    PGconn *conn;
    char *after;
    int n;

    if (ztp_config_load(c, 0, err, sizeof(err)) != 0) {
        ztp_log_error("%s", err);
        return 1;
    }
    if ((conn = connect_cli(c->database_url)) == NULL)
        return 1;
    after = transitions_sql();
    n = ztp_migrate_run(conn, after, err, sizeof(err));
    free(after);
    PQfinish(conn);
    if (n < 0) {
        ztp_log_error("%s", err);
        return 1;
    }
    ztp_log_info("migrations: %d applied, %d in all", n, ztp_nmigrations);
    return 0;
}

static int cmd_provider_create(const char *name)
{
    char err[512], key[ZTP_APIKEY_LEN + 1], id[ZTP_APIKEY_ID_LEN + 1], hash[65], secret_id[17];
    ztp_config_t *c = &ztp_config;
    PGconn *conn;
    PGresult *r;

    if (ztp_config_load(c, 1, err, sizeof(err)) != 0) {
        ztp_log_error("%s", err);
        return 1;
    }
    if (strlen(name) == 0 || strlen(name) > 200) {
        ztp_log_error("the provider name must be 1 to 200 characters");
        return 1;
    }
    ztp_secret_init(c->secret, c->have_secret_previous ? c->secret_previous : NULL);
    if ((conn = connect_cli(c->database_url)) == NULL)
        return 1;
    ztp_apikey_generate(key, id, hash);
    ztp_secret_key_id(ZTP_SECRET_CURRENT, secret_id);
    const char *params[4] = {name, id, hash, secret_id};
    /* the role is the statement's transaction's alone: behind a transaction
     * pooler the session goes on serving other clients */
    r = PQexecParams(conn,
                     "WITH r AS (SELECT set_config('role', 'ztp_system', true)),"
                     " p AS (INSERT INTO providers (name) SELECT $1 FROM r RETURNING id),"
                     " k AS (INSERT INTO api_keys (id, provider_id, name, hash, secret_id)"
                     "       SELECT $2, p.id, 'initial', decode($3, 'hex'), $4 FROM p)"
                     " SELECT id FROM p",
                     4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(r));
        msg[strcspn(msg, "\n")] = '\0';
        ztp_log_error("cannot create the provider: %s%s", msg,
                      strstr(msg, "does not exist") ? " (run ztpd migrate first)" : "");
        PQclear(r);
        PQfinish(conn);
        return 1;
    }
    json_t *out = json_pack("{s:s, s:s, s:s}", "id", PQgetvalue(r, 0, 0), "name", name, "api_key", key);
    char *text = json_dumps(out, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(out);
    PQclear(r);
    PQfinish(conn);
    return 0;
}

/* Invites a person to a provider as /v1/users does, for its first admin. */
static int cmd_user_invite(const char *provider, const char *email_in, const char *role)
{
    char err[512], email[ZTP_EMAIL_MAX + 2], token[ZTP_TOKEN_LEN + 1], hash[65], url[700];
    ztp_config_t *c = &ztp_config;
    PGconn *conn;
    PGresult *r;
    json_t *out;

    if (ztp_config_load(c, 1, err, sizeof(err)) != 0) {
        ztp_log_error("%s", err);
        return 1;
    }
    ztp_user_email_normalise(email_in, email, sizeof(email));
    if (!ztp_user_email_ok(email) || ztp_role_parse(role) == ZTP_ROLE_NONE) {
        ztp_log_error("usage: an email address of at most 254 characters; --role admin, operator or viewer");
        return 1;
    }
    ztp_secret_init(c->secret, c->have_secret_previous ? c->secret_previous : NULL);
    if ((conn = connect_cli(c->database_url)) == NULL)
        return 1;
    ztp_token_generate(token, hash);
    const char *tenant[1] = {provider};
    const char *params[3] = {email, role, hash};
    PQclear(PQexec(conn, "BEGIN"));
    PQclear(PQexecParams(conn,
                         "SELECT set_config('role', 'ztp_tenant', true), set_config('app.tenant', $1, true)",
                         1, NULL, tenant, NULL, NULL, 0));
    r = PQexecParams(conn, "SELECT status, body FROM ztp_user_create($1, $2, $3)", 3, NULL, params, NULL,
                     NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || atoi(PQgetvalue(r, 0, 0)) != 201 ||
        (out = json_loads(PQgetvalue(r, 0, 1), 0, NULL)) == NULL) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s",
                 PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 1) : PQresultErrorMessage(r));
        msg[strcspn(msg, "\n")] = '\0';
        ztp_log_error("cannot invite: %s", msg);
        PQclear(r);
        PQfinish(conn);
        return 1;
    }
    PQclear(r);
    PQclear(PQexec(conn, "COMMIT"));
    PQfinish(conn);
    ztp_user_invite_url(token, url, sizeof(url));
    json_object_set_new(out, "invite_url", json_string(url));
    char *text = json_dumps(out, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(out);
    return 0;
}

static void register_routes(void)
{
    ztp_router_add("GET", "/healthz", ztp_ops_healthz, 0, NULL);
    ztp_router_add("GET", "/readyz", ztp_ops_readyz, 0, NULL);
    ztp_router_add("GET", "/metrics", ztp_ops_metrics, 0, NULL);
    ztp_router_add("GET", "/redirect/{mac}", ztp_redirect_on_get, 0, NULL);
    ztp_redirect_init();
    ztp_router_add("GET", "/boot/{file}", ztp_boot_on_get, 0, NULL);
    ztp_boot_init();
    ztp_activation_register(SMALL_BODY);
    ztp_admin_register(SMALL_BODY, ztp_config.max_body_bytes);
    ztp_console_register();
}

static int check_schema(const char *url)
{
    PGconn *conn = connect_cli(url);
    PGresult *r;
    int ok;
    if (conn == NULL)
        return -1;
    r = PQexec(conn, "SELECT count(*) FROM ztp_schema_migrations");
    ok = PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) >= ztp_nmigrations;
    if (!ok)
        ztp_log_error("the database is not migrated to this version of ztpd: run ztpd migrate");
    PQclear(r);
    PQfinish(conn);
    return ok ? 0 : -1;
}

static int cmd_serve(void)
{
    char err[512];
    ztp_config_t *c = &ztp_config;

    if (ztp_config_load(c, 1, err, sizeof(err)) != 0) {
        ztp_log_error("%s", err);
        return 1;
    }
    ztp_secret_init(c->secret, c->have_secret_previous ? c->secret_previous : NULL);
    if (check_schema(c->database_url) != 0)
        return 1;
    register_routes();
    if (ztp_server_listen(c) != 0)
        return 1;
    ztp_worker_start(4);
    ztp_admin_start();
    ztp_outbound_start();
    int rc = ztp_server_run(c);
    ztp_outbound_stop();
    ztp_admin_stop();
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    int i;
    /* flags override the environment */
    for (i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            setenv("ZTP_LISTEN", argv[i + 1], 1);
        else if (strcmp(argv[i], "--threads") == 0)
            setenv("ZTP_THREADS", argv[i + 1], 1);
        else if (strcmp(argv[i], "--database-url") == 0)
            setenv("DATABASE_URL", argv[i + 1], 1);
        else
            break;
    }
    if (argc >= 2 && strcmp(argv[1], "migrate") == 0 && argc == 2)
        return cmd_migrate();
    if (argc == 4 && strcmp(argv[1], "provider") == 0 && strcmp(argv[2], "create") == 0)
        return cmd_provider_create(argv[3]);
    if ((argc == 5 || (argc == 7 && strcmp(argv[5], "--role") == 0)) && strcmp(argv[1], "user") == 0 &&
        strcmp(argv[2], "invite") == 0)
        return cmd_user_invite(argv[3], argv[4], argc == 7 ? argv[6] : "admin");
    if (argc >= 2 && strcmp(argv[1], "serve") == 0 && i >= argc)
        return cmd_serve();
    return usage();
}
