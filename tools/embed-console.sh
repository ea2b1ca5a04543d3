#!/bin/sh
# Writes a C file that compiles the console's static files into ztpd, with
# one hash over all of them (names and contents): the console's assets are
# served under /console/a/<hash>/, so a new build is a new URL and browsers
# may keep every asset for a year.
#   tools/embed-console.sh console/app.js console/pages/x.js ...
set -eu
for f in "$@"; do
    case "$f" in
        console/*) ;;
        *) echo "embed-console: $f is not under console/" >&2; exit 1 ;;
    esac
    # the name becomes part of an assembler string and a URL: keep it plain
    if printf '%s' "$f" | grep -q '[^A-Za-z0-9._/-]'; then
        echo "embed-console: $f: use only letters, digits, '.', '_', '-' and '/' in names" >&2
        exit 1
    fi
done
hash=$(for f in "$@"; do printf '%s\n' "$f"; wc -c < "$f"; cat "$f"; done | sha256sum | cut -c1-16)
printf '%s\n' '#include "../../services/console.h"'
i=0
for f in "$@"; do
    printf '__asm__(".section .rodata\\n.global ztp_con_%d\\n.global ztp_con_%d_end\\nztp_con_%d:\\n.incbin \\"%s\\"\\nztp_con_%d_end:\\n.byte 0\\n.previous");\n' \
        "$i" "$i" "$i" "$f" "$i"
    printf 'extern const char ztp_con_%d[], ztp_con_%d_end[];\n' "$i" "$i"
    i=$((i + 1))
done
printf 'const ztp_console_file_t ztp_console_files[] = {\n'
i=0
for f in "$@"; do
    printf '    {"%s", ztp_con_%d, ztp_con_%d_end},\n' "${f#console/}" "$i" "$i"
    i=$((i + 1))
done
printf '};\nconst int ztp_console_nfiles = %d;\n' "$i"
printf 'const char ztp_console_hash[] = "%s";\n' "$hash"
