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
#include "stats.h"
#include "transfers.h"
#include "webhooks.h"
#include "urltoken.h"

void ztp_admin_register(size_t max_body, size_t max_import_body)
{
    ztp_router_add("GET", "/openapi.json", ztp_openapi_get, 0, NULL);
    ztp_v1_route("POST", "/v1/profiles", ztp_profiles_create, max_body);
    ztp_v1_route("GET", "/v1/profiles", ztp_profiles_list, 0);
    ztp_v1_route("GET", "/v1/profiles/{id}", ztp_profiles_get, 0);
    ztp_v1_route("PATCH", "/v1/profiles/{id}", ztp_profiles_update, max_body);
    ztp_v1_route("DELETE", "/v1/profiles/{id}", ztp_profiles_delete, 0);
    ztp_v1_route("GET", "/v1/devices", ztp_devices_list, 0);
    ztp_v1_route("POST", "/v1/devices/import", ztp_import_handle, max_import_body);
    ztp_v1_route("POST", "/v1/devices/repoint", ztp_repoint_handle, max_import_body);
    ztp_v1_route("PUT", "/v1/devices/{mac}", ztp_devices_put, max_body);
    ztp_v1_route("GET", "/v1/devices/{mac}", ztp_devices_get, 0);
    ztp_v1_route("DELETE", "/v1/devices/{mac}", ztp_devices_delete, 0);
    ztp_v1_route("GET", "/v1/devices/{mac}/events", ztp_devices_events, 0);
    ztp_v1_route("POST", "/v1/devices/{mac}/status", ztp_devices_report, max_body);
    ztp_v1_route("POST", "/v1/api-keys", ztp_keys_create, max_body);
    ztp_v1_route("GET", "/v1/api-keys", ztp_keys_list, 0);
    ztp_v1_route("DELETE", "/v1/api-keys/{id}", ztp_keys_revoke, 0);
    ztp_v1_route("POST", "/v1/activation-codes", ztp_codes_create, max_body);
    ztp_v1_route("GET", "/v1/activation-codes", ztp_codes_list, 0);
    ztp_v1_route("DELETE", "/v1/activation-codes/{id}", ztp_codes_revoke, 0);
    ztp_v1_route("GET", "/v1/audit-events", ztp_audit_list, 0);
    ztp_v1_route("POST", "/v1/import-jobs", ztp_import_jobs_create, max_body);
    ztp_v1_route("GET", "/v1/import-jobs", ztp_import_jobs_list, 0);
    ztp_v1_route("GET", "/v1/import-jobs/{id}", ztp_import_jobs_get, 0);
    ztp_v1_route("DELETE", "/v1/import-jobs/{id}", ztp_import_jobs_cancel, 0);
    ztp_v1_route("PUT", "/v1/import-jobs/{id}/parts/{n}", ztp_import_part_handle, max_import_body);
    ztp_v1_route("POST", "/v1/import-jobs/{id}/start", ztp_import_jobs_start, 0);
    ztp_v1_route("POST", "/v1/webhooks", ztp_webhooks_create, max_body);
    ztp_v1_route("GET", "/v1/webhooks", ztp_webhooks_list, 0);
    ztp_v1_route("DELETE", "/v1/webhooks/{id}", ztp_webhooks_delete, 0);
    ztp_v1_route("GET", "/v1/webhooks/{id}/deliveries", ztp_webhooks_deliveries, 0);
    ztp_v1_route("GET", "/v1/stats", ztp_stats_get, 0);
    ztp_v1_route("GET", "/v1/url-token-key", ztp_urltoken_get, 0);
    ztp_v1_route("POST", "/v1/url-token-key", ztp_urltoken_rotate, max_body);
    ztp_v1_route("POST", "/v1/transfers", ztp_transfers_create, max_import_body);
    ztp_v1_route("GET", "/v1/transfers", ztp_transfers_list, 0);
    ztp_v1_route("POST", "/v1/transfers/accept", ztp_transfers_accept, max_body);
    ztp_v1_route("GET", "/v1/transfers/{id}", ztp_transfers_get, 0);
    ztp_v1_route("DELETE", "/v1/transfers/{id}", ztp_transfers_cancel, 0);
}

void ztp_admin_start(void)
{
    ztp_import_runner_start();
}
