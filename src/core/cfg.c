/*
 * cfg.c — the configuration table and its four layers (STYLE R20).
 *
 * Every key is one row of cfg_keys[]: its name, type, range and default.
 * Values from all layers go through the same setter, so a bad value in the
 * file, the environment or a flag is caught the same way, and the error
 * names where it came from.  Cross-field checks run after all layers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cfg.h"
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
	I(http_threads, 1, 64, "4", "HTTP thread pool size"),
	I(http_max_connections, 1, 100000, "1024", "concurrent connections"),
	I(http_timeout, 1, 3600, "30", "idle connection timeout, seconds"),
	L(http_max_body, 1024, 1LL << 30, "1048576", "largest request body"),
	I(http_conn_memory, 8192, 1 << 24, "65536", "memory per connection"),
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
};

#define CFG_NKEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

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
	FILE			*fp;
	char			 line[4096], source[512];
	char			*p, *eq, *key, *val;
	const struct cfg_key	*k;
	int			 lineno = 0, rc = -1;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(errbuf, errlen, "file %s: %s", path, strerror(errno));
		return -1;
	}
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
	fclose(fp);
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
	return 0;
}

int
cfg_is_flag(const char *arg)
{
	const char	*eq;

	if (strncmp(arg, "--", 2) != 0)
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
	if (c->data_dir[0] == '\0') {
		snprintf(errbuf, errlen, "data_dir: must not be empty");
		return -1;
	}
	if (c->job_heartbeat * 2 > c->job_lease) {
		snprintf(errbuf, errlen, "job_heartbeat (%d s) must be at most "
		    "half of job_lease (%d s)", c->job_heartbeat, c->job_lease);
		return -1;
	}
	return 0;
}

int
cfg_load(struct cfg *c, int *argc, char **argv, char *errbuf, size_t errlen)
{
	const char	*file;
	size_t		 i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CFG_NKEYS; i++)
		if (cfg_set(c, &cfg_keys[i], cfg_keys[i].k_default, "default",
		    errbuf, errlen) == -1)
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
}

void
cfg_export_env(const struct cfg *c)
{
	const char	*base = (const char *)c;
	char		 name[128], num[32];
	const char	*v;
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
}
