#!/bin/sh
# Writes a C file that compiles the given migration files into ztpd, so the
# binary carries its own schema (no files to ship beside it).
set -eu
printf '%s\n' '#include "../../services/migrate.h"'
i=0
for f in "$@"; do
    printf '__asm__(".section .rodata\\n.global ztp_mig_%d\\nztp_mig_%d:\\n.incbin \\"%s\\"\\n.byte 0\\n.previous");\n' "$i" "$i" "$f"
    printf 'extern const char ztp_mig_%d[];\n' "$i"
    i=$((i + 1))
done
printf 'const ztp_migration_t ztp_migrations[] = {\n'
i=0
for f in "$@"; do
    printf '    {"%s", ztp_mig_%d},\n' "$(basename "$f")" "$i"
    i=$((i + 1))
done
printf '};\nconst int ztp_nmigrations = %d;\n' "$i"
