#ifndef ZTP_ROLES_H
#define ZTP_ROLES_H

/*
 * What a person may do on /v1: each role includes the ones below it. API
 * keys act as ZTP_ROLE_ADMIN. Every /v1 route names the least role it
 * needs where it is registered (handlers.c): that list is the role table.
 */
typedef enum {
    ZTP_ROLE_NONE = 0,
    ZTP_ROLE_VIEWER = 1,   /* reads everything */
    ZTP_ROLE_OPERATOR = 2, /* also devices, codes, imports, transfers */
    ZTP_ROLE_ADMIN = 3,    /* also profiles, API keys, people, webhooks */
} ztp_role_t;

/* The role named name ("admin", "operator", "viewer"), or ZTP_ROLE_NONE. */
ztp_role_t ztp_role_parse(const char *name);

/* The name of a role (a static string); "none" for ZTP_ROLE_NONE. */
const char *ztp_role_name(ztp_role_t role);

/* Whether a caller of role `have` may use a route that needs `need`. */
int ztp_role_allows(ztp_role_t have, ztp_role_t need);

#endif
