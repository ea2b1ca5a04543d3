#ifndef ZTP_REDIRECT_HANDLER_H
#define ZTP_REDIRECT_HANDLER_H

#include "../services/router.h"
#include "contacts.h"
#include "useragent.h"

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

/* Sends the 200 answer of profile a (contacts.c gives it) to the phone mac:
 * XML, or JSON when `json`; $(ZTP_TOKEN) replaced by the device's token. */
void ztp_redirect_send_answer(h2o_req_t *req, int json, const char *mac, const char *model,
                              const char *serial, const ztp_profile_answer_t *a);

/* Records the contact of the phone `mac` (canonical) asking by req, whose
 * User-Agent is ua_text (may be NULL) and reads as ua, with the model and
 * serial number it told (either may be NULL or ""), through the batched
 * path of contacts.c; cb gets the outcome. want: the /boot vendor whose URL
 * the answer needs, or NULL. The caller holds the request (ztp_http_hold).
 * The one place both phone routes record from: what a contact must carry
 * (a device certificate's verdict) is added here. */
void ztp_redirect_record(h2o_req_t *req, const char *mac, const char *ua_text, const ztp_ua_t *ua,
                         const char *model, const char *serial, const char *want, ztp_contact_cb cb,
                         void *arg);

/* Answers 404 to a phone (/redirect, /boot): the one place its misses go,
 * counted per source by the scanning limit (scan.c); past it, 429 instead.
 * `detail` NULL for every miss that depends on what the database holds: a
 * MAC nobody knows, a released device, a device without a profile (for its
 * vendor) read alike, so that a stranger cannot sort the MACs it tries into
 * claimed and unknown by the text. */
void ztp_redirect_miss(h2o_req_t *req, const char *detail);

/* Answers 429 and returns 1 when req's source is over the scanning limit;
 * /redirect and /boot call it first. Returns 0 otherwise. */
int ztp_redirect_refuse_scanner(h2o_req_t *req);

/* Whether the client prefers JSON, judged from its Accept header. */
int ztp_redirect_wants_json(h2o_req_t *req, int default_json);

#endif
