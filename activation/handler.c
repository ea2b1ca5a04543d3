#include "handler.h"

void ztp_activation_register(size_t max_body)
{
    (void)max_body;
}
