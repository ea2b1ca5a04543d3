#ifndef ZTP_BOOT_H
#define ZTP_BOOT_H

#include "../services/router.h"

/* Registers its metrics; call once before the server starts. */
void ztp_boot_init(void);

/* GET /boot/{file}: a phone pointed here by DHCP or by hand. */
void ztp_boot_on_get(h2o_req_t *req, const ztp_match_t *m);

#endif
