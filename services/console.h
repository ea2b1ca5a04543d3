#ifndef ZTP_CONSOLE_H
#define ZTP_CONSOLE_H

#include <stddef.h>
/* The web console's static files, compiled in (tools/embed-console.sh) and
 * served under /console/: index.html at /console/ (and /console/invite, where
 * invitations point), every other file under /console/a/<hash>/ with a
 * year-long cache, the hash covering every file. */

/* One embedded file: its name under console/ and its bytes [data, end). */
typedef struct ztp_console_file {
    const char *name;
    const char *data;
    const char *end;
} ztp_console_file_t;

extern const ztp_console_file_t ztp_console_files[];
extern const int ztp_console_nfiles;
extern const char ztp_console_hash[];

/* The Content-Type for a file name, by its extension. */
const char *ztp_console_content_type(const char *name, size_t len);

/* Registers the console's routes; call once before the server starts. */
void ztp_console_register(void);

#endif
