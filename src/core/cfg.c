/*
 * cfg.c — the configuration table and its four layers (STYLE R20).
 *
 * Every key is one row of cfg_keys[]: its name, type, range and default.
 * Values from all layers go through the same setter, so a bad value in the
 * file, the environment or a flag is caught the same way, and the error
 * names where it came from.  Cross-field checks run after all layers.
 *
 * Schedule declarations ("schedule.NAME.FIELD = value", cfg.h) are not
 * table rows: any number of names, each field once.  They are kept as
 * written with their source, checked here for syntax only; cron, zone
 * and job are the scheduler's to judge (schedule_cfg_check).  OpenHIM
 * targets ("openhim.target.NAME.FIELD") are read and checked whole in
 * cfg_targets.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/cfg.h"
#include "core/cfg_int.h"
#include "lib/str.h"
#include "lib/xmalloc.h"

enum cfg_type { CFG_STR, CFG_INT, CFG_I64 };

struct cfg_key {
	const char	*k_name;
	enum cfg_type	 k_type;
	size_t		 k_off;
	int64_t		 k_min, k_max;
	const char	*k_default;	/* as text, parsed like any value */
	int		 k_secret;	/* masked in cfg_dump */
	const char	*k_help;
};

#define S(n, d, h) { #n, CFG_STR, offsetof(struct cfg, n), 0, 0, d, 0, h }
#define SS(n, d, h) { #n, CFG_STR, offsetof(struct cfg, n), 0, 0, d, 1, h }
#define I(n, lo, hi, d, h) \
	{ #n, CFG_INT, offsetof(struct cfg, n), lo, hi, d, 0, h }
#define L(n, lo, hi, d, h) \
	{ #n, CFG_I64, offsetof(struct cfg, n), lo, hi, d, 0, h }

static const struct cfg_key cfg_keys[] = {
	SS(database_url, "", "libpq conninfo or URI of the store"),
	S(listen, "127.0.0.1:8080", "host:port the API listens on"),
	S(base_url, "", "public FHIR base URL (default http://LISTEN/fhir)"),
	S(data_dir, "var/data", "directory for output files"),
	I(workers, 1, 64, "2", "worker processes started by 'run'"),
	S(log_level, "info", "error, warn, info or debug"),
	SS(admin_token, "", "bearer token for /admin/api"),
	S(auth, "smart", "smart (the default: SMART Backend Services "
	    "tokens on every bulk endpoint) or none (a laboratory only)"),
	S(auth_jwks_allow, "", "comma-separated hosts whose client JWKS URL "
	    "may be http or resolve to private addresses"),
	I(http_threads, 1, 64, "4", "HTTP thread pool size"),
	I(http_max_connections, 1, 100000, "1024", "concurrent connections"),
	I(http_timeout, 1, 3600, "30", "idle connection timeout, seconds"),
	L(http_max_body, 1024, 1LL << 30, "1048576", "largest request body"),
	I(http_conn_memory, 8192, 1 << 24, "16384",
	    "memory per connection: request line and headers fit in half"),
	I(db_statement_timeout, 0, 3600000, "5000",
	    "statement_timeout of API database sessions, ms"),
	I(job_lease, 5, 86400, "30", "job lease, seconds"),
	I(job_heartbeat, 1, 3600, "5", "job heartbeat period, seconds"),
	I(job_max_attempts, 1, 100, "5", "attempts before a job fails"),
	L(export_file_resources, 1, 1LL << 40, "100000",
	    "roll an export file after this many resources"),
	L(export_file_bytes, 4096, 1LL << 40, "268435456",
	    "roll an export file after this many uncompressed bytes"),
	I(export_retention, 1, 365 * 86400, "86400",
	    "lifetime of output files, seconds"),
	I(history_days, 1, 3650, "30", "days a finished job stays in the "
	    "history before house-keeping prunes it"),
	I(export_max_per_client, 1, 1000, "4",
	    "concurrent exports per client"),
	I(zstd_level, 1, 19, "1", "zstd level for stored outputs"),
	S(import_dir, "var/import", "root directory for file:// imports"),
	S(import_allow, "", "comma-separated hosts $import may fetch from"),
	I(import_max_inputs, 1, 10000, "100", "inputs per $import"),
	L(import_max_line, 1024, 1LL << 31, "16777216",
	    "longest accepted NDJSON line, bytes"),
	I(import_max_jobs, 1, 1000, "2", "imports running or queued at once"),
	I(import_concurrency, 1, 16, "2", "inputs of one import fetched "
	    "and loaded in parallel"),
	I(import_batch_lines, 100, 10000000, "100000",
	    "lines per import transaction (and checkpoint)"),
	I(import_connect_timeout, 1, 600, "10", "import fetch connect timeout, s"),
	I(import_stall_timeout, 1, 3600, "30",
	    "import fetch: seconds without a byte before giving up"),
	/* Interactive-latency controller: bulk jobs back off (AIMD) when
	 * the API's recent p99 rises above the target. */
	S(interactive_control, "on", "on: bulk jobs slow down while "
	    "interactive p99 is above the target; off: they do not"),
	I(interactive_p99_target_ms, 0, 60000, "10", "interactive p99 the "
	    "controller aims at, ms (0: controller off)"),
	I(interactive_floor_pct, 1, 100, "5", "lowest share of its rate "
	    "the controller leaves a bulk job, percent"),
	I(interactive_window_ms, 200, 60000, "2000", "window over which "
	    "API processes measure the p99 they publish, ms"),
	/* openIMIS (issue 17) */
	S(openimis_url, "", "openIMIS FHIR R4 module base URL, e.g. "
	    "http://openimis/api/api_fhir_r4 (empty: not connected)"),
	S(openimis_username, "", "openIMIS user for the FHIR API"),
	SS(openimis_password, "", "that user's password"),
	S(openimis_auth, "jwt", "jwt (POST login/, Bearer) or basic"),
	I(openimis_rps, 1, 1000, "5", "requests per second toward openIMIS"),
	S(openimis_claim_code_type, "MR", "identifier type code under which "
	    "openIMIS expects the claim code (MR, or Code)"),
	S(openimis_types, "Patient,Group,Contract,Coverage,Claim,"
	    "InsurancePlan,Organization,Practitioner,Location,Medication,"
	    "ActivityDefinition", "resource types openimis-pull reads"),
	I(openimis_page_size, 1, 1000, "100", "_count of openimis-pull's "
	    "pages"),
	I(openimis_full_every, 1, 3650, "7", "days between full, "
	    "reconciling openIMIS pulls"),
	I(openimis_retry, 1, 86400, "300", "seconds openIMIS may fail "
	    "(down, 429, 503) before a request gives up"),
	/* OpenHIM mediator (src/openhim/, issue 15). */
	S(openhim_api_url, "", "OpenHIM core API, e.g. https://openhim:8080 "
	    "(empty: Bulkhead is not an OpenHIM mediator)"),
	S(openhim_username, "", "OpenHIM API user (Basic auth)"),
	SS(openhim_password, "", "OpenHIM API password"),
	S(openhim_ca_file, "", "CA file trusted for the OpenHIM API"),
	I(openhim_tls_insecure, 0, 1, "0",
	    "1: do not verify the OpenHIM API certificate"),
	I(openhim_max_attempts, 1, 100, "10", "attempts per delivery"),
	I(openhim_url_ttl, 60, 30 * 86400, "86400",
	    "lifetime of signed download URLs in notifications, seconds"),
	I(openhim_install_channels, 0, 1, "0", "1: after registering, "
	    "create Bulkhead's default channels missing in OpenHIM"),
};

#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

#define CFG_SCHED_PREFIX	"schedule."
#define CFG_SCHED_ENV		"BULKHEAD_SCHEDULES"
#define CFG_SCHED_NAME_MAX	64	/* as schedule.h SCHEDULE_NAME_MAX */

static const char *cfg_sf_names[CFG_SF_N] = {
	[CFG_SF_CRON] = "cron",
	[CFG_SF_TIMEZONE] = "timezone",
	[CFG_SF_ENABLED] = "enabled",
	[CFG_SF_MISFIRE] = "misfire",
	[CFG_SF_KIND] = "kind",
	[CFG_SF_PARAMS] = "params",
};

static int	cfg_sched_name_ok(const char *, size_t);
static int	cfg_sched_set(struct cfg *, const char *, size_t, const char *,
		    const char *, const char *, char *, size_t);
static int	cfg_sched_line(struct cfg *, const char *, const char *,
		    const char *, char *, size_t);
static int	cfg_sched_env(struct cfg *, const char *, char *, size_t);
static void	cfg_sched_free(struct cfg *);
static int	cfg_read_file(struct cfg *, const char *, char *, size_t);
static int	cfg_read_stream(struct cfg *, FILE *, const char *, char *,
		    size_t);
static int	cfg_defaults(struct cfg *, char *, size_t);
static int	cfg_validate_openimis(struct cfg *, char *, size_t);

static const struct cfg_key *
cfg_find(const char *name, size_t len)
{
	size_t	i, j;

	for (i = 0; i < CFG_NKEYS; i++) {
		const char *k = cfg_keys[i].k_name;

		if (strlen(k) != len)
			continue;
		for (j = 0; j < len; j++) {
			char c = name[j] == '-' ? '_' : name[j];

			if (tolower((unsigned char)c) != k[j])
				break;
		}
		if (j == len)
			return &cfg_keys[i];
	}
	return NULL;
}

static int
cfg_set(struct cfg *c, const struct cfg_key *k, const char *value,
    const char *source, char *errbuf, size_t errlen)
{
	char		*base = (char *)c;
	const char	*errstr;
	int64_t		 v;

	switch (k->k_type) {
	case CFG_STR: {
		char **p = (char **)(void *)(base + k->k_off);

		free(*p);
		*p = xstrdup(value);
		return 0;
	}
	case CFG_INT:
	case CFG_I64:
		if (str_to_i64(value, k->k_min, k->k_max, &v, &errstr) == -1) {
			snprintf(errbuf, errlen, "%s: %s: value \"%s\" is %s "
			    "(expected an integer from %lld to %lld)", source,
			    k->k_name, value, errstr, (long long)k->k_min,
			    (long long)k->k_max);
			return -1;
		}
		if (k->k_type == CFG_INT)
			*(int *)(void *)(base + k->k_off) = (int)v;
		else
			*(int64_t *)(void *)(base + k->k_off) = v;
		return 0;
	}
	return -1;
}

static int
cfg_read_file(struct cfg *c, const char *path, char *errbuf, size_t errlen)
{
	FILE	*fp;
	int	 rc;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(errbuf, errlen, "file %s: %s", path, strerror(errno));
		return -1;
	}
	rc = cfg_read_stream(c, fp, path, errbuf, errlen);
	fclose(fp);
	return rc;
}

/* The "key = value" lines of fp (borrowed, left open); path names them
 * in sources and errors. */
static int
cfg_read_stream(struct cfg *c, FILE *fp, const char *path, char *errbuf,
    size_t errlen)
{
	char			 line[4096], source[512];
	char			*p, *eq, *key, *val;
	const struct cfg_key	*k;
	int			 lineno = 0, rc = -1;

	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		snprintf(source, sizeof(source), "file %s:%d", path, lineno);
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			snprintf(errbuf, errlen, "%s: line too long", source);
			goto out;
		}
		p = str_trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			snprintf(errbuf, errlen,
			    "%s: expected \"key = value\"", source);
			goto out;
		}
		*eq = '\0';
		key = str_trim(p);
		val = str_trim(eq + 1);
		if (strlen(val) >= 2 && val[0] == '"' &&
		    val[strlen(val) - 1] == '"') {
			val[strlen(val) - 1] = '\0';
			val++;
		}
		if (strncmp(key, CFG_SCHED_PREFIX,
		    strlen(CFG_SCHED_PREFIX)) == 0) {
			if (cfg_sched_line(c, key, val, source, errbuf,
			    errlen) == -1)
				goto out;
			continue;
		}
		if (strncmp(key, CFG_TARGET_PREFIX,
		    strlen(CFG_TARGET_PREFIX)) == 0) {
			if (cfg_targets_line(c, key, val, source, errbuf,
			    errlen) == -1)
				goto out;
			continue;
		}
		if ((k = cfg_find(key, strlen(key))) == NULL) {
			snprintf(errbuf, errlen, "%s: unknown key \"%s\"",
			    source, key);
			goto out;
		}
		if (cfg_set(c, k, val, source, errbuf, errlen) == -1)
			goto out;
	}
	if (ferror(fp)) {
		snprintf(errbuf, errlen, "file %s: read error", path);
		goto out;
	}
	rc = 0;
 out:
	return rc;
}

/* "workers" -> "BULKHEAD_WORKERS" */
static void
cfg_env_name(const struct cfg_key *k, char *name, size_t size)
{
	const char	*p = k->k_name;
	size_t		 j;

	j = (size_t)snprintf(name, size, "BULKHEAD_");
	for (; *p != '\0' && j < size - 1; p++)
		name[j++] = (char)toupper((unsigned char)*p);
	name[j] = '\0';
}

static int
cfg_read_env(struct cfg *c, char *errbuf, size_t errlen)
{
	char		 name[128], source[160];
	const char	*v;
	size_t		 i;

	for (i = 0; i < CFG_NKEYS; i++) {
		cfg_env_name(&cfg_keys[i], name, sizeof(name));
		if ((v = getenv(name)) == NULL)
			continue;
		snprintf(source, sizeof(source), "env %s", name);
		if (cfg_set(c, &cfg_keys[i], v, source, errbuf, errlen) == -1)
			return -1;
	}
	if ((v = getenv(CFG_TARGET_ENV)) != NULL &&
	    cfg_targets_env(c, v, errbuf, errlen) == -1)
		return -1;
	if ((v = getenv(CFG_SCHED_ENV)) != NULL)
		return cfg_sched_env(c, v, errbuf, errlen);
	return 0;
}

int
cfg_is_flag(const char *arg)
{
	const char	*eq;

	/* NULL: argv[argc], and the analyzer's view of argv once an
	 * external call (cfg_targets_env) may have touched memory. */
	if (arg == NULL || strncmp(arg, "--", 2) != 0)
		return 0;
	arg += 2;
	if (strncmp(arg, "config", 6) == 0 && (arg[6] == '\0' || arg[6] == '='))
		return 1;
	eq = strchr(arg, '=');
	return cfg_find(arg, eq ? (size_t)(eq - arg) : strlen(arg)) != NULL;
}

/* Splits argv into configuration flags (applied, removed) and the rest. */
static int
cfg_read_flags(struct cfg *c, int *argc, char **argv, int apply,
    char *errbuf, size_t errlen)
{
	const struct cfg_key	*k;
	char			 source[160];
	const char		*name, *eq, *val;
	size_t			 nlen;
	int			 i, out = 1;

	for (i = 1; i < *argc; i++) {
		if (!cfg_is_flag(argv[i])) {
			argv[out++] = argv[i];
			continue;
		}
		name = argv[i] + 2;
		eq = strchr(name, '=');
		nlen = eq ? (size_t)(eq - name) : strlen(name);
		if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < *argc)
			val = argv[++i];
		else {
			snprintf(errbuf, errlen, "flag --%.*s: missing value",
			    (int)nlen, name);
			return -1;
		}
		if (nlen == 6 && strncmp(name, "config", 6) == 0)
			continue;	/* handled before the file layer */
		if (!apply)
			continue;
		k = cfg_find(name, nlen);
		snprintf(source, sizeof(source), "flag --%.*s", (int)nlen,
		    name);
		if (cfg_set(c, k, val, source, errbuf, errlen) == -1)
			return -1;
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

static const char *
cfg_find_config_flag(int argc, char **argv)
{
	int	i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return NULL;
}

static int
cfg_validate(struct cfg *c, char *errbuf, size_t errlen)
{
	char		*colon, *end;
	const char	*errstr;
	int64_t		 port;

	/* database_url may be empty here: the commands that only talk to
	 * the admin API do not need it; main.c checks it for the others. */
	if ((colon = strrchr(c->listen, ':')) == NULL || colon == c->listen) {
		snprintf(errbuf, errlen, "listen: \"%s\" is not host:port",
		    c->listen);
		return -1;
	}
	if (str_to_i64(colon + 1, 1, 65535, &port, &errstr) == -1) {
		snprintf(errbuf, errlen, "listen: port in \"%s\" is %s",
		    c->listen, errstr);
		return -1;
	}
	free(c->listen_host);
	c->listen_host = xstrndup(c->listen, (size_t)(colon - c->listen));
	c->listen_port = (int)port;
	if (c->base_url[0] == '\0') {
		free(c->base_url);
		c->base_url = xasprintf("http://%s/fhir", c->listen);
	}
	if (strncmp(c->base_url, "http://", 7) != 0 &&
	    strncmp(c->base_url, "https://", 8) != 0) {
		snprintf(errbuf, errlen, "base_url: \"%s\" must start with "
		    "http:// or https://", c->base_url);
		return -1;
	}
	end = c->base_url + strlen(c->base_url);
	while (end > c->base_url + 8 && end[-1] == '/')
		*--end = '\0';
	if (strcmp(c->log_level, "error") != 0 &&
	    strcmp(c->log_level, "warn") != 0 &&
	    strcmp(c->log_level, "info") != 0 &&
	    strcmp(c->log_level, "debug") != 0) {
		snprintf(errbuf, errlen, "log_level: \"%s\" is not one of "
		    "error, warn, info, debug", c->log_level);
		return -1;
	}
	/* import_dir is compared with paths from file:// URLs: make it
	 * absolute and without a trailing slash once, here. */
	if (c->import_dir[0] != '/') {
		char	cwd[4096], *abs;

		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			snprintf(errbuf, errlen, "import_dir: cannot resolve "
			    "\"%s\": %s", c->import_dir, strerror(errno));
			return -1;
		}
		abs = xasprintf("%s/%s", cwd, c->import_dir);
		free(c->import_dir);
		c->import_dir = abs;
	}
	end = c->import_dir + strlen(c->import_dir);
	while (end > c->import_dir + 1 && end[-1] == '/')
		*--end = '\0';
	if (strcmp(c->auth, "smart") != 0 && strcmp(c->auth, "none") != 0) {
		snprintf(errbuf, errlen, "auth: \"%s\" is not one of smart, "
		    "none", c->auth);
		return -1;
	}
	if (strcmp(c->interactive_control, "on") != 0 &&
	    strcmp(c->interactive_control, "off") != 0) {
		snprintf(errbuf, errlen, "interactive_control: \"%s\" is not "
		    "one of on, off", c->interactive_control);
		return -1;
	}
	if (c->openhim_api_url[0] != '\0' &&
	    ((strncmp(c->openhim_api_url, "http://", 7) != 0 &&
	    strncmp(c->openhim_api_url, "https://", 8) != 0) ||
	    c->openhim_username[0] == '\0')) {
		snprintf(errbuf, errlen, "openhim_api_url: \"%s\" must start "
		    "with http:// or https://, with openhim_username set",
		    c->openhim_api_url);
		return -1;
	}
	if (c->data_dir[0] == '\0') {
		snprintf(errbuf, errlen, "data_dir: must not be empty");
		return -1;
	}
	if (cfg_targets_validate(c, errbuf, errlen) == -1)
		return -1;
	if (cfg_validate_openimis(c, errbuf, errlen) == -1)
		return -1;
	if (c->job_heartbeat * 2 > c->job_lease) {
		snprintf(errbuf, errlen, "job_heartbeat (%d s) must be at most "
		    "half of job_lease (%d s)", c->job_heartbeat, c->job_lease);
		return -1;
	}
	return 0;
}

/* The openIMIS keys (issue 17): checked only as far as they can be
 * without a network (bulkhead openimis check goes further). */
static int
cfg_validate_openimis(struct cfg *c, char *errbuf, size_t errlen)
{
	const char	*p;
	char		*end;

	if (strcmp(c->openimis_auth, "jwt") != 0 &&
	    strcmp(c->openimis_auth, "basic") != 0) {
		snprintf(errbuf, errlen, "openimis_auth: \"%s\" is not one of "
		    "jwt, basic", c->openimis_auth);
		return -1;
	}
	for (p = c->openimis_claim_code_type; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			break;
	if (*p != '\0' || c->openimis_claim_code_type[0] == '\0' ||
	    strlen(c->openimis_claim_code_type) > 64) {
		snprintf(errbuf, errlen, "openimis_claim_code_type: must be a "
		    "code such as MR or Code");
		return -1;
	}
	for (p = c->openimis_types; *p != '\0'; p++)
		if (!isalpha((unsigned char)*p) && *p != ',')
			break;
	if (*p != '\0' || c->openimis_types[0] == '\0') {
		snprintf(errbuf, errlen, "openimis_types: must be a "
		    "comma-separated list of resource types");
		return -1;
	}
	if (c->openimis_url[0] == '\0')
		return 0;
	if ((strncmp(c->openimis_url, "http://", 7) != 0 &&
	    strncmp(c->openimis_url, "https://", 8) != 0) ||
	    strpbrk(c->openimis_url, " \t\r\n?#") != NULL) {
		snprintf(errbuf, errlen, "openimis_url: \"%s\" must be an "
		    "http(s) URL without query", c->openimis_url);
		return -1;
	}
	end = c->openimis_url + strlen(c->openimis_url);
	while (end > c->openimis_url + 8 && end[-1] == '/')
		*--end = '\0';
	if (c->openimis_username[0] == '\0') {
		snprintf(errbuf, errlen, "openimis_username: required when "
		    "openimis_url is set");
		return -1;
	}
	return 0;
}

/* Zeroes *c and applies the built-in defaults. */
static int
cfg_defaults(struct cfg *c, char *errbuf, size_t errlen)
{
	size_t	i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CFG_NKEYS; i++)
		if (cfg_set(c, &cfg_keys[i], cfg_keys[i].k_default, "default",
		    errbuf, errlen) == -1)
			return -1;
	return 0;
}

int
cfg_load(struct cfg *c, int *argc, char **argv, char *errbuf, size_t errlen)
{
	const char	*file;

	if (cfg_defaults(c, errbuf, errlen) == -1)
		return -1;
	if ((file = cfg_find_config_flag(*argc, argv)) == NULL)
		file = getenv("BULKHEAD_CONFIG");
	if (file != NULL && *file != '\0') {
		c->config_file = xstrdup(file);
		if (cfg_read_file(c, file, errbuf, errlen) == -1)
			return -1;
	}
	if (cfg_read_env(c, errbuf, errlen) == -1)
		return -1;
	if (cfg_read_flags(c, argc, argv, 1, errbuf, errlen) == -1)
		return -1;
	return cfg_validate(c, errbuf, errlen);
}

int
cfg_load_text(struct cfg *c, const char *name, const char *text, size_t len,
    char *errbuf, size_t errlen)
{
	FILE	*fp;
	int	 rc;

	if (cfg_defaults(c, errbuf, errlen) == -1)
		return -1;
	if (len > 0) {
		/* fmemopen: the same line reader as a file, byte for byte. */
		if ((fp = fmemopen((void *)(uintptr_t)text, len, "r")) ==
		    NULL) {
			snprintf(errbuf, errlen, "file %s: %s", name,
			    strerror(errno));
			return -1;
		}
		rc = cfg_read_stream(c, fp, name, errbuf, errlen);
		fclose(fp);
		if (rc == -1)
			return -1;
	}
	return cfg_validate(c, errbuf, errlen);
}

void
cfg_free(struct cfg *c)
{
	size_t	i;

	for (i = 0; i < CFG_NKEYS; i++) {
		if (cfg_keys[i].k_type == CFG_STR) {
			char **p = (char **)(void *)((char *)c +
			    cfg_keys[i].k_off);
			free(*p);
			*p = NULL;
		}
	}
	free(c->listen_host);
	free(c->config_file);
	c->listen_host = c->config_file = NULL;
	cfg_sched_free(c);
	cfg_targets_free(c);
}

void
cfg_dump(const struct cfg *c)
{
	const char	*base = (const char *)c;
	size_t		 i;

	for (i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		switch (k->k_type) {
		case CFG_STR: {
			const char *v = *(char *const *)(const void *)
			    (base + k->k_off);
			printf("%s = %s\n", k->k_name,
			    k->k_secret && *v ? "(set)" : v);
			break;
		}
		case CFG_INT:
			printf("%s = %d\n", k->k_name,
			    *(const int *)(const void *)(base + k->k_off));
			break;
		case CFG_I64:
			printf("%s = %lld\n", k->k_name, (long long)
			    *(const int64_t *)(const void *)(base + k->k_off));
			break;
		}
	}
	for (i = 0; i < c->nschedules; i++) {
		const struct cfg_schedule *cs = &c->schedules[i];
		int f;

		for (f = 0; f < CFG_SF_N; f++)
			if (cs->cs_value[f] != NULL)
				printf(CFG_SCHED_PREFIX "%s.%s = %s\n",
				    cs->cs_name, cfg_sf_names[f],
				    cs->cs_value[f]);
	}
	cfg_targets_dump(c);
}

void
cfg_export_env(const struct cfg *c)
{
	const char	*base = (const char *)c;
	char		 name[128], num[32], *json;
	const char	*v;
	cJSON		*arr;
	size_t		 i;

	for (i = 0; i < CFG_NKEYS; i++) {
		const struct cfg_key	*k = &cfg_keys[i];

		cfg_env_name(k, name, sizeof(name));
		switch (k->k_type) {
		case CFG_STR:
			v = *(char *const *)(const void *)(base + k->k_off);
			break;
		case CFG_INT:
			snprintf(num, sizeof(num), "%d",
			    *(const int *)(const void *)(base + k->k_off));
			v = num;
			break;
		default:
			snprintf(num, sizeof(num), "%lld", (long long)
			    *(const int64_t *)(const void *)(base + k->k_off));
			v = num;
			break;
		}
		setenv(name, v, 1);
	}
	unsetenv("BULKHEAD_CONFIG");
	cfg_targets_export(c);
	/* The declarations, each field with the line it came from, so that
	 * a child's messages still name the file. */
	arr = cJSON_CreateArray();
	for (i = 0; i < c->nschedules; i++) {
		const struct cfg_schedule *cs = &c->schedules[i];
		int f;

		for (f = 0; f < CFG_SF_N; f++) {
			cJSON *e;

			if (cs->cs_value[f] == NULL)
				continue;
			e = cJSON_CreateArray();
			cJSON_AddItemToArray(e, cJSON_CreateString(
			    cs->cs_name));
			cJSON_AddItemToArray(e, cJSON_CreateString(
			    cfg_sf_names[f]));
			cJSON_AddItemToArray(e, cJSON_CreateString(
			    cs->cs_value[f]));
			cJSON_AddItemToArray(e, cJSON_CreateString(
			    cs->cs_src[f]));
			cJSON_AddItemToArray(arr, e);
		}
	}
	json = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	if (json != NULL)
		setenv(CFG_SCHED_ENV, json, 1);
	cJSON_free(json);
}

const char *
cfg_sched_field_name(enum cfg_sched_field f)
{
	return (int)f >= 0 && f < CFG_SF_N ? cfg_sf_names[f] : "?";
}

/* ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, the schedules table's rule. */
static int
cfg_sched_name_ok(const char *name, size_t len)
{
	size_t	i;

	if (len == 0 || len > CFG_SCHED_NAME_MAX ||
	    !isalnum((unsigned char)name[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '.' &&
		    name[i] != '_' && name[i] != '-')
			return 0;
	return 1;
}

/* One "schedule.NAME.FIELD = value" line. */
static int
cfg_sched_line(struct cfg *c, const char *key, const char *value,
    const char *source, char *errbuf, size_t errlen)
{
	const char	*name = key + strlen(CFG_SCHED_PREFIX);
	const char	*dot = strrchr(name, '.');

	if (dot == NULL || dot == name || dot[1] == '\0') {
		snprintf(errbuf, errlen, "%s: \"%s\": expected "
		    "schedule.NAME.FIELD (FIELD: cron, timezone, enabled, "
		    "misfire, kind, params)", source, key);
		return -1;
	}
	return cfg_sched_set(c, name, (size_t)(dot - name), dot + 1, value,
	    source, errbuf, errlen);
}

/* Sets one field of a declared schedule; source names where it came
 * from.  0 or -1 with the reason. */
static int
cfg_sched_set(struct cfg *c, const char *name, size_t nlen,
    const char *field, const char *value, const char *source, char *errbuf,
    size_t errlen)
{
	struct cfg_schedule	*cs = NULL;
	size_t			 i;
	int			 f;

	for (f = 0; f < CFG_SF_N; f++)
		if (strcmp(field, cfg_sf_names[f]) == 0)
			break;
	if (f == CFG_SF_N) {
		snprintf(errbuf, errlen, "%s: schedule.%.*s.%s: unknown field "
		    "(cron, timezone, enabled, misfire, kind, params)",
		    source, (int)(nlen > 80 ? 80 : nlen), name, field);
		return -1;
	}
	if (!cfg_sched_name_ok(name, nlen)) {
		snprintf(errbuf, errlen, "%s: schedule name \"%.*s\": must be "
		    "1-%d letters, digits, '.', '_' or '-', starting with a "
		    "letter or digit", source, (int)(nlen > 80 ? 80 : nlen),
		    name, CFG_SCHED_NAME_MAX);
		return -1;
	}
	for (i = 0; i < c->nschedules; i++)
		if (strlen(c->schedules[i].cs_name) == nlen &&
		    strncmp(c->schedules[i].cs_name, name, nlen) == 0)
			cs = &c->schedules[i];
	if (cs == NULL) {
		if (c->nschedules >= CFG_SCHEDULES_MAX) {
			snprintf(errbuf, errlen, "%s: more than %d schedules "
			    "declared", source, CFG_SCHEDULES_MAX);
			return -1;
		}
		c->schedules = xreallocarray(c->schedules, c->nschedules + 1,
		    sizeof(*c->schedules));
		cs = &c->schedules[c->nschedules++];
		memset(cs, 0, sizeof(*cs));
		cs->cs_name = xstrndup(name, nlen);
		cs->cs_first = xstrdup(source);
	}
	if (cs->cs_value[f] != NULL) {
		snprintf(errbuf, errlen, "%s: schedule.%s.%s: already set at "
		    "%s", source, cs->cs_name, field, cs->cs_src[f]);
		return -1;
	}
	if (f == CFG_SF_ENABLED) {
		if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
		    strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
			value = "true";
		else if (strcmp(value, "false") == 0 ||
		    strcmp(value, "no") == 0 || strcmp(value, "off") == 0 ||
		    strcmp(value, "0") == 0)
			value = "false";
		else {
			snprintf(errbuf, errlen, "%s: schedule.%s.enabled: "
			    "\"%s\" is not true or false", source, cs->cs_name,
			    value);
			return -1;
		}
	}
	cs->cs_value[f] = xstrdup(value);
	cs->cs_src[f] = xstrdup(source);
	return 0;
}

/* The supervisor's hand-over (cfg_export_env): replaces the file's
 * declarations. */
static int
cfg_sched_env(struct cfg *c, const char *json, char *errbuf, size_t errlen)
{
	cJSON		*arr, *e;
	const char	*v[4];
	int		 i, rc = -1;

	cfg_sched_free(c);
	if ((arr = cJSON_Parse(json)) == NULL || !cJSON_IsArray(arr))
		goto bad;
	cJSON_ArrayForEach(e, arr) {
		if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 4)
			goto bad;
		for (i = 0; i < 4; i++)
			if ((v[i] = cJSON_GetStringValue(cJSON_GetArrayItem(e,
			    i))) == NULL)
				goto bad;
		if (cfg_sched_set(c, v[0], strlen(v[0]), v[1], v[2], v[3],
		    errbuf, errlen) == -1)
			goto out;
	}
	rc = 0;
	goto out;
 bad:
	snprintf(errbuf, errlen, "env " CFG_SCHED_ENV ": not a JSON array of "
	    "[name, field, value, source] (it is set by 'bulkhead run' for "
	    "its children)");
 out:
	cJSON_Delete(arr);
	return rc;
}

static void
cfg_sched_free(struct cfg *c)
{
	size_t	i;
	int	f;

	for (i = 0; i < c->nschedules; i++) {
		free(c->schedules[i].cs_name);
		free(c->schedules[i].cs_first);
		for (f = 0; f < CFG_SF_N; f++) {
			free(c->schedules[i].cs_value[f]);
			free(c->schedules[i].cs_src[f]);
		}
	}
	free(c->schedules);
	c->schedules = NULL;
	c->nschedules = 0;
}
