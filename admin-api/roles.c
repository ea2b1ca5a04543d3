#include "roles.h"

#include <string.h>

static const char *const names[] = {"none", "viewer", "operator", "admin"};

ztp_role_t ztp_role_parse(const char *name)
{
    for (int r = ZTP_ROLE_VIEWER; r <= ZTP_ROLE_ADMIN; r++)
        if (name != NULL && strcmp(name, names[r]) == 0)
            return (ztp_role_t)r;
    return ZTP_ROLE_NONE;
}

const char *ztp_role_name(ztp_role_t role)
{
    return role >= ZTP_ROLE_VIEWER && role <= ZTP_ROLE_ADMIN ? names[role] : names[0];
}

int ztp_role_allows(ztp_role_t have, ztp_role_t need)
{
    return need >= ZTP_ROLE_VIEWER && have >= need;
}
