/* Every route of the provider API. */
#include "handlers.h"
#include "audit.h"
#include "codes.h"
#include "devices.h"
#include "import_handler.h"
#include "import_jobs.h"
#include "import_runner.h"
#include "keys.h"
#include "openapi.h"
#include "profiles.h"
#include "repoint.h"
#include "sessions.h"
#include "stats.h"
#include "transfers.h"
#include "users.h"
#include "webhooks.h"
#include "urltoken.h"

void ztp_admin_register(size_t max_body, size_t max_import_body)
{
    ztp_router_add("GET", "/openapi.json", ztp_openapi_get, 0, NULL);
    ztp_v1_route("POST", "/v1/profiles", ZTP_ROLE_ADMIN, ztp_profiles_create, max_body);
    ztp_v1_route("GET", "/v1/profiles", ZTP_ROLE_VIEWER, ztp_profiles_list, 0);
    ztp_v1_route("GET", "/v1/profiles/{id}", ZTP_ROLE_VIEWER, ztp_profiles_get, 0);
    ztp_v1_route("GET", "/v1/profiles/{id}/preview", ZTP_ROLE_VIEWER, ztp_profiles_preview, 0);
    ztp_v1_route("PATCH", "/v1/profiles/{id}", ZTP_ROLE_ADMIN, ztp_profiles_update, max_body);
    ztp_v1_route("DELETE", "/v1/profiles/{id}", ZTP_ROLE_ADMIN, ztp_profiles_delete, 0);
    ztp_v1_route("GET", "/v1/devices", ZTP_ROLE_VIEWER, ztp_devices_list, 0);
    ztp_v1_route("POST", "/v1/devices/import", ZTP_ROLE_OPERATOR, ztp_import_handle, max_import_body);
    ztp_v1_route("POST", "/v1/devices/repoint", ZTP_ROLE_OPERATOR, ztp_repoint_handle, max_import_body);
    ztp_v1_route("PUT", "/v1/devices/{mac}", ZTP_ROLE_OPERATOR, ztp_devices_put, max_body);
    ztp_v1_route("GET", "/v1/devices/{mac}", ZTP_ROLE_VIEWER, ztp_devices_get, 0);
    ztp_v1_route("DELETE", "/v1/devices/{mac}", ZTP_ROLE_OPERATOR, ztp_devices_delete, 0);
    ztp_v1_route("GET", "/v1/devices/{mac}/events", ZTP_ROLE_VIEWER, ztp_devices_events, 0);
    ztp_v1_route("POST", "/v1/devices/{mac}/status", ZTP_ROLE_OPERATOR, ztp_devices_report, max_body);
    ztp_v1_route("POST", "/v1/api-keys", ZTP_ROLE_ADMIN, ztp_keys_create, max_body);
    ztp_v1_route("GET", "/v1/api-keys", ZTP_ROLE_VIEWER, ztp_keys_list, 0);
    ztp_v1_route("DELETE", "/v1/api-keys/{id}", ZTP_ROLE_ADMIN, ztp_keys_revoke, 0);
    ztp_v1_route("POST", "/v1/activation-codes", ZTP_ROLE_OPERATOR, ztp_codes_create, max_body);
    ztp_v1_route("GET", "/v1/activation-codes", ZTP_ROLE_VIEWER, ztp_codes_list, 0);
    ztp_v1_route("DELETE", "/v1/activation-codes/{id}", ZTP_ROLE_OPERATOR, ztp_codes_revoke, 0);
    ztp_v1_route("GET", "/v1/audit-events", ZTP_ROLE_VIEWER, ztp_audit_list, 0);
    ztp_v1_route("POST", "/v1/import-jobs", ZTP_ROLE_OPERATOR, ztp_import_jobs_create, max_body);
    ztp_v1_route("GET", "/v1/import-jobs", ZTP_ROLE_VIEWER, ztp_import_jobs_list, 0);
    ztp_v1_route("GET", "/v1/import-jobs/{id}", ZTP_ROLE_VIEWER, ztp_import_jobs_get, 0);
    ztp_v1_route("DELETE", "/v1/import-jobs/{id}", ZTP_ROLE_OPERATOR, ztp_import_jobs_cancel, 0);
    ztp_v1_route("PUT", "/v1/import-jobs/{id}/parts/{n}", ZTP_ROLE_OPERATOR, ztp_import_part_handle,
                 max_import_body);
    ztp_v1_route("POST", "/v1/import-jobs/{id}/start", ZTP_ROLE_OPERATOR, ztp_import_jobs_start, 0);
    ztp_v1_route("POST", "/v1/webhooks", ZTP_ROLE_ADMIN, ztp_webhooks_create, max_body);
    ztp_v1_route("GET", "/v1/webhooks", ZTP_ROLE_VIEWER, ztp_webhooks_list, 0);
    ztp_v1_route("DELETE", "/v1/webhooks/{id}", ZTP_ROLE_ADMIN, ztp_webhooks_delete, 0);
    ztp_v1_route("GET", "/v1/webhooks/{id}/deliveries", ZTP_ROLE_VIEWER, ztp_webhooks_deliveries, 0);
    ztp_v1_route("GET", "/v1/stats", ZTP_ROLE_VIEWER, ztp_stats_get, 0);
    /* the key mints every device's URL token: a secret, so admin even to read */
    ztp_v1_route("GET", "/v1/url-token-key", ZTP_ROLE_ADMIN, ztp_urltoken_get, 0);
    ztp_v1_route("POST", "/v1/url-token-key", ZTP_ROLE_ADMIN, ztp_urltoken_rotate, max_body);
    ztp_v1_route("POST", "/v1/transfers", ZTP_ROLE_OPERATOR, ztp_transfers_create, max_import_body);
    ztp_v1_route("GET", "/v1/transfers", ZTP_ROLE_VIEWER, ztp_transfers_list, 0);
    ztp_v1_route("POST", "/v1/transfers/accept", ZTP_ROLE_OPERATOR, ztp_transfers_accept, max_body);
    ztp_v1_route("GET", "/v1/transfers/{id}", ZTP_ROLE_VIEWER, ztp_transfers_get, 0);
    ztp_v1_route("DELETE", "/v1/transfers/{id}", ZTP_ROLE_OPERATOR, ztp_transfers_cancel, 0);
    ztp_users_register(max_body);
    ztp_sessions_register(max_body);
}

void ztp_admin_start(void)
{
    ztp_import_runner_start();
}

void ztp_admin_stop(void)
{
    ztp_import_runner_stop();
}
