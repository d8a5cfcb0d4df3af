/*
 * cfg_int.h — what cfg.c and cfg_targets.c share: the OpenHIM targets
 * declared in the config file ("openhim.target.NAME.FIELD = value",
 * cfg.h), read, checked, handed over and freed by cfg_targets.c.
 * Errors: -1 with the reason, naming its source, in errbuf.
 */
#ifndef CORE_CFG_INT_H
#define CORE_CFG_INT_H

#include <stddef.h>

#include "core/cfg.h"

#define CFG_TARGET_PREFIX	"openhim.target."
#define CFG_TARGET_ENV		"BULKHEAD_OPENHIM_TARGETS"

/* One "openhim.target.NAME.FIELD = value" line (key as written). */
int	cfg_targets_line(struct cfg *, const char *key, const char *value,
	    const char *source, char *errbuf, size_t errlen);
/* The supervisor's hand-over (cfg_targets_export): replaces the file's
 * declarations. */
int	cfg_targets_env(struct cfg *, const char *json, char *errbuf,
	    size_t errlen);
/* After all layers: each target has its url. */
int	cfg_targets_validate(const struct cfg *, char *errbuf, size_t errlen);
void	cfg_targets_free(struct cfg *);
/* "openhim.target.NAME.FIELD = value" lines to stdout, password masked. */
void	cfg_targets_dump(const struct cfg *);
/* Sets (or unsets, when none) CFG_TARGET_ENV for the children. */
void	cfg_targets_export(const struct cfg *);

#endif
