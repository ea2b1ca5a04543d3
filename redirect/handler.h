#ifndef ZTP_REDIRECT_HANDLER_H
#define ZTP_REDIRECT_HANDLER_H

#include "../services/router.h"

/* Registers its metrics; call once before the server starts. */
void ztp_redirect_init(void);

/* GET /redirect/{mac}[.xml|.json] */
void ztp_redirect_on_get(h2o_req_t *req, const ztp_match_t *m);

/* Sends the 200 answer a phone gets (redirect and activation share it):
 * XML, or JSON when `json`. params_text is the profile's params as JSON text;
 * token_key (64 hex digits, or NULL) the provider's URL token key, with which
 * $(ZTP_TOKEN) is replaced by the device's token. */
void ztp_redirect_send_profile(h2o_req_t *req, int json, const char *mac, const char *model,
                               const char *serial, const char *rule, const char *upgrade,
                               const char *params_text, const char *token_key);

/* Whether the client prefers JSON, judged from its Accept header. */
int ztp_redirect_wants_json(h2o_req_t *req, int default_json);

#endif
