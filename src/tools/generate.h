/*
 * generate.h — "bulkhead generate": a deterministic, openIMIS-shaped FHIR R4
 * dataset written as NDJSON, one <Type>.ndjson file per resource type.
 *
 * The output is a pure function of --families, --seed and --today: the same
 * three give byte-identical files, whatever --jobs is.
 */
#ifndef TOOLS_GENERATE_H
#define TOOLS_GENERATE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Runs the subcommand; argv[0] is "generate".  Returns the process exit
 * status: 0 on success, 1 on a runtime failure (I/O; the partial output is
 * removed), 2 on bad flags (one line "bulkhead generate: --flag: reason" on
 * stderr).  --help prints usage on stdout and returns 0.  Writes a one-line
 * summary to stderr on success.  Forks one child when --jobs is 2.
 */
int	generate_main(int argc, char **argv);

/*
 * Parses a strict "YYYY-MM-DD" (years 1971..9000) into days since
 * 1970-01-01.  Returns 0, or -1 if the text is not such a date.
 */
int	generate_parse_date(const char *s, int64_t *days);

/*
 * Formats days since 1970-01-01 as "YYYY-MM-DD" into dst, which must hold
 * at least 11 bytes.
 */
void	generate_format_date(int64_t days, char *dst, size_t size);

#endif
