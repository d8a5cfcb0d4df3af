/*
 * openhim_cfg.h — the mediator config Bulkhead declares to OpenHIM
 * (configDefs) and accepts back from it (heartbeat answers, core-js
 * src/api/mediators.js heartbeat()).
 *
 * The config is one object: "targets", an array of delivery targets
 * {name, url, username, password, channel, maxInlineBytes}, and
 * "maxAttempts".  openhim_cfg_parse checks all of it before the caller
 * sees any of it: a config with one bad value is refused whole, never
 * applied half-way.  Errors: -1 and the first problem in errbuf.
 */
#ifndef OPENHIM_OPENHIM_CFG_H
#define OPENHIM_OPENHIM_CFG_H

#include <stddef.h>
#include <stdint.h>

#define OPENHIM_CFG_TARGETS_MAX	32
#define OPENHIM_CFG_NAME_MAX	64
#define OPENHIM_MAX_INLINE	(15LL * 1024 * 1024)	/* core's body cap */

struct cJSON;

struct openhim_target {
	char	 ot_name[OPENHIM_CFG_NAME_MAX + 1];	/* [a-z0-9_-] */
	char	*ot_url;		/* http(s) URL on the router */
	char	*ot_username;		/* router client, or NULL */
	char	*ot_password;		/* or NULL */
	char	*ot_channel;		/* informative, or NULL */
	int64_t	 ot_max_inline;		/* 0 .. OPENHIM_MAX_INLINE */
};

struct openhim_cfg {
	struct openhim_target	*oc_targets;	/* owned */
	size_t			 oc_ntargets;
	int			 oc_max_attempts; /* 0: keep the file's */
};

/* Parses and validates text (NUL-terminated JSON).  On 0, *out holds
 * the result (caller frees with openhim_cfg_free); on -1, *out is
 * empty. */
int		 openhim_cfg_parse(const char *text, struct openhim_cfg *out,
		    char *errbuf, size_t errlen);
void		 openhim_cfg_free(struct openhim_cfg *);
/* Checks a job's or schedule's "deliver" param (NULL: absent, fine):
 * an array of at most OPENHIM_CFG_TARGETS_MAX {"target": NAME}. */
int		 openhim_cfg_deliver_check(const struct cJSON *deliver,
		    char *errbuf, size_t errlen);
/* The configDefs array of the registration.  Caller frees with
 * cJSON_Delete. */
struct cJSON	*openhim_cfg_defs(void);

#endif
