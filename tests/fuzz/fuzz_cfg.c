/*
 * fuzz-sources: src/core/cfg.c src/core/cfg_targets.c
 * fuzz_cfg.c — libFuzzer target for the config-file parser
 * (src/core/cfg.c, through cfg_load_text): any bytes as a config file,
 * with the invariants a loaded configuration promises.
 *
 * Build, from the top of the tree (tests/fuzz/run.sh does this):
 *	clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *	    tests/fuzz/fuzz_cfg.c src/core/cfg.c \
 *	    src/core/cfg_targets.c src/lib/[a-z]*.c -lcjson
 * Run:   ./a.out -max_len=4096 tests/fuzz/corpus/fuzz_cfg
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A schedule field is NULL in both arrays or set in both. */
static void
fuzz_check_schedule(const struct cfg_schedule *cs)
{
	int	f;

	if (cs->cs_name == NULL || cs->cs_name[0] == '\0' ||
	    cs->cs_first == NULL)
		abort();
	for (f = 0; f < CFG_SF_N; f++)
		if ((cs->cs_value[f] == NULL) != (cs->cs_src[f] == NULL))
			abort();
}

/* A loaded target has its url, a name of [a-z0-9_-], and an inline cap
 * within OpenHIM's body limit. */
static void
fuzz_check_target(const struct cfg_target *ct)
{
	const char	*p;
	int		 f;

	if (ct->ct_name == NULL || ct->ct_name[0] == '\0' ||
	    ct->ct_first == NULL || ct->ct_value[CFG_TF_URL] == NULL ||
	    ct->ct_max_inline < 0 ||
	    ct->ct_max_inline > CFG_TARGET_INLINE_MAX ||
	    (strncmp(ct->ct_value[CFG_TF_URL], "http://", 7) != 0 &&
	    strncmp(ct->ct_value[CFG_TF_URL], "https://", 8) != 0))
		abort();
	for (p = ct->ct_name; *p != '\0'; p++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", *p) ==
		    NULL)
			abort();
	for (f = 0; f < CFG_TF_N; f++)
		if ((ct->ct_value[f] == NULL) != (ct->ct_src[f] == NULL))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg	 c;
	char		 err[512];
	size_t		 i;

	err[0] = '\0';
	if (cfg_load_text(&c, "fuzz.conf", (const char *)data, size, err,
	    sizeof(err)) == 0) {
		if (c.listen_port < 1 || c.listen_port > 65535 ||
		    c.listen_host == NULL ||
		    (strncmp(c.base_url, "http://", 7) != 0 &&
		    strncmp(c.base_url, "https://", 8) != 0) ||
		    c.data_dir[0] == '\0' || c.import_dir[0] != '/' ||
		    c.job_heartbeat * 2 > c.job_lease ||
		    c.nschedules > CFG_SCHEDULES_MAX)
			abort();
		if (strcmp(c.log_level, "error") != 0 &&
		    strcmp(c.log_level, "warn") != 0 &&
		    strcmp(c.log_level, "info") != 0 &&
		    strcmp(c.log_level, "debug") != 0)
			abort();
		for (i = 0; i < c.nschedules; i++)
			fuzz_check_schedule(&c.schedules[i]);
		if (c.nopenhim_targets > CFG_TARGETS_MAX)
			abort();
		for (i = 0; i < c.nopenhim_targets; i++)
			fuzz_check_target(&c.openhim_targets[i]);
	} else if (err[0] == '\0')
		abort();	/* every failure says why */
	cfg_free(&c);
	return 0;
}
