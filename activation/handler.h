#ifndef ZTP_ACTIVATION_HANDLER_H
#define ZTP_ACTIVATION_HANDLER_H

#include <stddef.h>

/* Registers POST /activate and its metrics; call before the server starts. */
void ztp_activation_register(size_t max_body);

#endif
