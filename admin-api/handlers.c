#include "handlers.h"

void ztp_admin_register(size_t max_body, size_t max_import_body)
{
    (void)max_body;
    (void)max_import_body;
}
