/*
 * cfg.h — configuration: one declarative table, four layers.
 *
 * Precedence, lowest first: built-in defaults, the config file
 * (--config FILE or BULKHEAD_CONFIG; "key = value" lines, '#' comments),
 * environment variables BULKHEAD_<KEY>, and command-line flags --<key>
 * (underscores may be written as dashes).  The result is validated as a
 * whole; the first error names its source ("file x.conf:3", "env
 * BULKHEAD_WORKERS", "flag --workers").
 *
 * Schedules may be declared in the file too, one field per line:
 *
 *	schedule.NAME.cron     = 0 2 * * *          (required)
 *	schedule.NAME.kind     = export             (required)
 *	schedule.NAME.params   = {"level":"system"} (JSON object; {})
 *	schedule.NAME.timezone = Africa/Dar_es_Salaam (UTC)
 *	schedule.NAME.enabled  = true | false       (true)
 *	schedule.NAME.misfire  = run-once | skip    (run-once)
 *
 * cfg_load checks the syntax (name, known field, each field once,
 * enabled a boolean) and keeps where each field came from;
 * schedule_cfg_check (jobs/schedule.h) checks cron, zone, misfire and
 * job, naming that line; the scheduler applies them (schedule_cfg_apply).
 * The supervisor hands them to its children in the environment variable
 * BULKHEAD_SCHEDULES (JSON, internal), which replaces the file's
 * declarations when set.
 *
 * OpenHIM delivery targets may be declared in the file too (issue 15),
 * one field per line:
 *
 *	openhim.target.NAME.url              = http://openhim:5001/sms
 *	                                       (required; http or https)
 *	openhim.target.NAME.username         = bulkhead  (router client)
 *	openhim.target.NAME.password         = secret    (masked in dumps)
 *	openhim.target.NAME.max_inline_bytes = 0         (0 .. 15 MiB)
 *	openhim.target.NAME.channel          = SMS gateway (for the record)
 *
 * NAME is 1-64 of a-z, 0-9, '-' and '_' (what "deliver" names).  Each
 * is checked whole at load (cfg_targets.c); a bad one fails the load
 * with its line.  They are handed to children as BULKHEAD_OPENHIM_TARGETS
 * (JSON, internal), like the schedules.  A target of the file wins over
 * one of the same name pushed by OpenHIM (openhim/delivery.h).
 *
 * Errors: cfg_load returns -1 and writes the reason into errbuf.
 * Ownership: strings in struct cfg are owned by it; cfg_free releases them.
 */
#ifndef CORE_CFG_H
#define CORE_CFG_H

#include <stddef.h>
#include <stdint.h>

#define CFG_SCHEDULES_MAX	256	/* schedules one file may declare */
#define CFG_SOURCE_MAX		512	/* "file x.conf:12" */
/* OpenHIM targets one file may declare (as OPENHIM_CFG_TARGETS_MAX) */
#define CFG_TARGETS_MAX		32
#define CFG_TARGET_NAME_MAX	64
#define CFG_TARGET_INLINE_MAX	(15LL * 1024 * 1024) /* OpenHIM's body cap */

/* The fields of a declared schedule, in cs_value / cs_src order. */
enum cfg_sched_field {
	CFG_SF_CRON,
	CFG_SF_TIMEZONE,
	CFG_SF_ENABLED,
	CFG_SF_MISFIRE,
	CFG_SF_KIND,
	CFG_SF_PARAMS,
	CFG_SF_N
};

/* One schedule declared in the config file.  Strings owned; a field not
 * given is NULL in both arrays. */
struct cfg_schedule {
	char	*cs_name;
	char	*cs_value[CFG_SF_N];	/* as written ("true"/"false" for
					   enabled, normalised) */
	char	*cs_src[CFG_SF_N];	/* "file x.conf:12" per field */
	char	*cs_first;		/* source of its first line */
};

/* The fields of a declared OpenHIM target, in ct_value / ct_src order. */
enum cfg_target_field {
	CFG_TF_URL,
	CFG_TF_USERNAME,
	CFG_TF_PASSWORD,
	CFG_TF_MAX_INLINE,
	CFG_TF_CHANNEL,
	CFG_TF_N
};

/* One OpenHIM delivery target declared in the config file.  Strings
 * owned; a field not given is NULL in both arrays. */
struct cfg_target {
	char	*ct_name;
	char	*ct_value[CFG_TF_N];	/* as written */
	char	*ct_src[CFG_TF_N];	/* "file x.conf:12" per field */
	char	*ct_first;		/* source of its first line */
	int64_t	 ct_max_inline;		/* parsed max_inline_bytes, 0 */
};

struct cfg {
	char	*database_url;		/* libpq conninfo or URI */
	char	*listen;		/* host:port of the HTTP API */
	char	*listen_host;		/* derived from listen */
	int	 listen_port;		/* derived from listen */
	char	*base_url;		/* public FHIR base, no trailing '/' */
	char	*data_dir;		/* output files live here */
	int	 workers;		/* worker processes under 'run' */
	char	*log_level;		/* error|warn|info|debug */
	char	*admin_token;		/* bearer token for /admin/api */
	char	*auth;			/* "smart" or "none" */
	char	*auth_jwks_allow;	/* hosts whose JWKS may be http or
					   private addresses */
	int	 http_threads;		/* libmicrohttpd thread pool size */
	int	 http_max_connections;	/* concurrent connections */
	int	 http_timeout;		/* idle connection timeout, seconds */
	int64_t	 http_max_body;		/* largest request body, bytes */
	int	 http_conn_memory;	/* per-connection memory, bytes */
	int	 db_statement_timeout;	/* API sessions, milliseconds */
	int	 job_lease;		/* lease length, seconds */
	int	 job_heartbeat;		/* heartbeat period, seconds */
	int	 job_max_attempts;	/* default attempts per job */
	int64_t	 export_file_resources;	/* roll output after N resources */
	int64_t	 export_file_bytes;	/* ... or after N uncompressed bytes */
	int	 export_retention;	/* output lifetime, seconds */
	int	 export_max_per_client;	/* concurrent exports per client */
	int	 history_days;		/* finished jobs kept this long */
	int	 zstd_level;		/* output compression level */
	char	*import_dir;		/* root for file:// import URLs */
	char	*import_allow;		/* comma-separated host allowlist */
	int	 import_max_inputs;	/* inputs per $import */
	int64_t	 import_max_line;	/* longest NDJSON line, bytes */
	int	 import_max_jobs;	/* imports queued or running at once */
	int	 import_concurrency;	/* inputs of one import in parallel */
	int	 import_batch_lines;	/* lines per import transaction */
	int	 import_connect_timeout; /* seconds */
	int	 import_stall_timeout;	/* seconds without a byte */
	/* Interactive-latency controller (jobs/backoff.h, lib/aimd.h). */
	char	*interactive_control;	/* on|off */
	int	 interactive_p99_target_ms; /* 0: off */
	int	 interactive_floor_pct;	/* lowest rate factor, percent */
	int	 interactive_window_ms;	/* window of the published p99 */
	/* openIMIS connection (issue 17; src/openimis/) */
	char	*openimis_url;		/* FHIR R4 module base, or "" (off) */
	char	*openimis_username;
	char	*openimis_password;	/* secret */
	char	*openimis_auth;		/* "jwt" (POST login/) or "basic" */
	int	 openimis_rps;		/* requests per second toward it */
	char	*openimis_claim_code_type; /* identifier type of claim codes */
	char	*openimis_types;	/* comma-separated types to pull */
	int	 openimis_page_size;	/* _count of a pull's pages */
	int	 openimis_full_every;	/* days between reconciling pulls */
	int	 openimis_retry;	/* seconds of failures before giving up */
	char	*openhim_api_url;	/* OpenHIM core API, "" = off */
	char	*openhim_username;	/* its API user */
	char	*openhim_password;	/* its password */
	char	*openhim_ca_file;	/* CA for its API, "" = system */
	int	 openhim_tls_insecure;	/* 1: no certificate check */
	int	 openhim_max_attempts;	/* per delivery */
	int	 openhim_url_ttl;	/* signed URL lifetime, seconds */
	int	 openhim_install_channels; /* 1: install the default
					   channels after registering */
	char	*config_file;		/* file read, or NULL */
	struct cfg_schedule *schedules;	/* declared in the file */
	size_t	 nschedules;
	struct cfg_target *openhim_targets; /* declared in the file */
	size_t	 nopenhim_targets;
};

/* "url", "username", ... for a target field. */
const char	*cfg_target_field_name(enum cfg_target_field);
/* The declared target called name, or NULL.  Borrowed from c. */
const struct cfg_target *cfg_target_find(const struct cfg *c,
	    const char *name);

/* "cron", "timezone", ... for a field. */
const char	*cfg_sched_field_name(enum cfg_sched_field);

/* Zeroes *c, applies defaults, then file, env and flags.  Recognised flags
 * are removed from argv (argc updated); anything else is left in place. */
int	 cfg_load(struct cfg *c, int *argc, char **argv, char *errbuf,
	    size_t errlen);
/* Zeroes *c, applies defaults, then text[0..len) read exactly as a
 * config file named name (sources say "file NAME:LINE"), then validates;
 * no environment, no flags.  For tests and the fuzz target.  text is
 * borrowed and need not be NUL-terminated.  As cfg_load, the caller
 * calls cfg_free whatever the result. */
int	 cfg_load_text(struct cfg *c, const char *name, const char *text,
	    size_t len, char *errbuf, size_t errlen);
void	 cfg_free(struct cfg *c);
/* Writes "key = value" lines of the effective configuration (secrets
 * masked) to stdout. */
void	 cfg_dump(const struct cfg *c);
/* True if arg is a configuration flag (--config or --<key>[=v]). */
int	 cfg_is_flag(const char *arg);
/* Exports the effective configuration as BULKHEAD_* environment
 * variables (and unsets BULKHEAD_CONFIG), so that child processes the
 * supervisor execs see exactly what the parent validated. */
void	 cfg_export_env(const struct cfg *c);

#endif
