/*
 * main.c — the bulkhead command: one binary, one subcommand per role.
 *
 * Service roles (run, serve, worker, scheduler) and store commands load
 * the configuration first; generate needs none.  Every failure ends with
 * one line on stderr and a non-zero exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_routes.h"
#include "cli/admin_cli.h"
#include "cli/admins_cli.h"
#include "cli/clients_cli.h"
#include "core/cfg.h"
#include "core/supervisor.h"
#include "core/version.h"
#include "http/http_server.h"
#include "cli/jobs_cli.h"
#include "cli/openhim_cli.h"
#include "cli/openimis_cli.h"
#include "jobs/schedule_cfg.h"
#include "jobs/scheduler.h"
#include "jobs/worker.h"
#include "lib/log.h"
#include "store/db.h"
#include "store/load.h"
#include "store/migrate.h"
#include "tools/generate.h"

struct command {
	const char	*c_name;
	int		 c_needs_cfg;	/* 0: none; 1: configuration;
					 * 2: configuration with a database */
	int		(*c_run)(struct cfg *, int, char **);
	const char	*c_help;
	/* Its --help, answered here before any configuration or database;
	 * NULL: the command parses its own (subcommands). */
	const char	*c_usage;
};

static int	cmd_run(struct cfg *, int, char **);
static int	cmd_serve(struct cfg *, int, char **);
static int	cmd_worker(struct cfg *, int, char **);
static int	cmd_scheduler(struct cfg *, int, char **);
static int	cmd_migrate(struct cfg *, int, char **);
static int	cmd_load(struct cfg *, int, char **);
static int	cmd_generate(struct cfg *, int, char **);
static int	cmd_config(struct cfg *, int, char **);
static int	cmd_jobs(struct cfg *, int, char **);
static int	cmd_schedules(struct cfg *, int, char **);
static int	cmd_limits(struct cfg *, int, char **);
static int	cmd_admins(struct cfg *, int, char **);
static int	cmd_clients(struct cfg *, int, char **);
static int	cmd_version(struct cfg *, int, char **);
static int	cmd_openimis(struct cfg *, int, char **);
static int	cmd_openhim(struct cfg *, int, char **);

static const struct command commands[] = {
	{ "run", 2, cmd_run, "API, scheduler and workers under one supervisor",
	    "run\n\nRuns 'serve', 'scheduler' and BULKHEAD_WORKERS 'worker' "
	    "processes under one\nsupervisor that restarts any that exits; "
	    "SIGTERM or SIGINT stops them all.\n" },
	{ "serve", 2, cmd_serve, "the HTTP API process alone",
	    "serve\n\nThe HTTP API alone (FHIR, admin API, /healthz, "
	    "/metrics) on BULKHEAD_LISTEN.\n" },
	{ "worker", 2, cmd_worker, "one worker process alone",
	    "worker\n\nOne worker process: claims queued jobs from the "
	    "database and runs them.\n" },
	{ "scheduler", 2, cmd_scheduler, "the scheduler process alone",
	    "scheduler\n\nThe scheduler alone: submits the jobs of due "
	    "schedules (one leader per\ndatabase).\n" },
	{ "migrate", 2, cmd_migrate, "apply database migrations",
	    "migrate\n\nApplies the migrations not yet applied (also done "
	    "at start-up).\n" },
	{ "load", 2, cmd_load, "load NDJSON files or directories into the store",
	    "load [--merge] DIR|FILE...\n\nLoads NDJSON resources in one "
	    "transaction: all of them or, on the first bad\nline, none.\n" },
	{ "generate", 0, cmd_generate, "write the openIMIS-shaped demo dataset",
	    NULL },
	{ "config", 0, cmd_config, "config check: validate the configuration",
	    "config check [--show]\n\nValidates the configuration (file, "
	    "environment, flags); --show prints every key.\n" },
	{ "jobs", 1, cmd_jobs, "list, show, pause, resume, cancel, retry, "
	    "watch, submit jobs", NULL },
	{ "schedules", 1, cmd_schedules, "list, set, delete, run, pause, "
	    "resume schedules", NULL },
	{ "limits", 1, cmd_limits, "show or set the limits on background "
	    "work", NULL },
	{ "admins", 2, cmd_admins, "add, list, disable, enable, delete, "
	    "rotate admin principals", NULL },
	{ "clients", 1, cmd_clients, "add, list, show, disable, delete SMART "
	    "clients; sign a token request", NULL },
	{ "openimis", 1, cmd_openimis, "check: log in to openIMIS and read "
	    "a page of each type", NULL },
	{ "openhim", 1, cmd_openhim, "install-channels: register with "
	    "OpenHIM and create the default channels", NULL },
	{ "version", 0, cmd_version, "print the version",
	    "version\n\nPrints the version.\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *fp)
{
	size_t	i;

	fprintf(fp, "usage: bulkhead [--config FILE] [--KEY VALUE ...] "
	    "COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(fp, "  %-10s %s\n", commands[i].c_name,
		    commands[i].c_help);
	fprintf(fp, "\nEvery configuration key can be given as a flag "
	    "(--database-url ...), an environment\nvariable "
	    "(BULKHEAD_DATABASE_URL) or a line in the config file; "
	    "'bulkhead config check'\nprints them all.\n");
}

/* Connects (retrying while the database is unreachable) and migrates.
 * Returns the connection or exits with a one-line reason. */
static PGconn *
main_db_ready(struct cfg *cfg, const char *role, int max_wait)
{
	char	 err[1024];
	PGconn	*conn;

	conn = db_connect_retry(cfg->database_url, role, max_wait, err,
	    sizeof(err));
	if (conn == NULL)
		log_fatalx("database unreachable: %s", err);
	if (migrate_apply(conn, err, sizeof(err)) == -1)
		log_fatalx("migration failed: %s", err);
	return conn;
}

static int
cmd_run(struct cfg *cfg, int argc, char **argv)
{
	PQfinish(main_db_ready(cfg, "supervisor", 0));
	return supervisor_main(cfg, argc, argv);
}

static int
cmd_serve(struct cfg *cfg, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	PQfinish(main_db_ready(cfg, "api", 0));
	return http_server_main(cfg, &api_routes);
}

static int
cmd_worker(struct cfg *cfg, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	PQfinish(main_db_ready(cfg, "worker", 0));
	return worker_main(cfg);
}

static int
cmd_scheduler(struct cfg *cfg, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	PQfinish(main_db_ready(cfg, "scheduler", 0));
	return scheduler_main(cfg);
}

static int
cmd_migrate(struct cfg *cfg, int argc, char **argv)
{
	char	 err[1024];
	PGconn	*conn;
	int	 n;

	(void)argc;
	(void)argv;
	if ((conn = db_connect(cfg->database_url, "migrate", err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "bulkhead migrate: database unreachable: %s\n",
		    err);
		return 1;
	}
	n = migrate_apply(conn, err, sizeof(err));
	PQfinish(conn);
	if (n == -1) {
		fprintf(stderr, "bulkhead migrate: %s\n", err);
		return 1;
	}
	printf("%d migration%s applied\n", n, n == 1 ? "" : "s");
	return 0;
}

static int
cmd_load(struct cfg *cfg, int argc, char **argv)
{
	return load_main(cfg, argc, argv);
}

static int
cmd_generate(struct cfg *cfg, int argc, char **argv)
{
	(void)cfg;
	return generate_main(argc, argv);
}

static int
cmd_config(struct cfg *unused, int argc, char **argv)
{
	struct cfg	 cfg;
	char		 err[1024];

	/* Called with the whole argv: flags may stand anywhere. */
	(void)unused;
	if (cfg_load(&cfg, &argc, argv, err, sizeof(err)) == -1 ||
	    schedule_cfg_check(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "bulkhead config: %s\n", err);
		cfg_free(&cfg);
		return 1;
	}
	if (cfg.database_url[0] == '\0') {
		fprintf(stderr, "bulkhead config: database_url: not set (set "
		    "BULKHEAD_DATABASE_URL, or use 'make run' for a private "
		    "cluster)\n");
		cfg_free(&cfg);
		return 1;
	}
	if (argc < 3 || strcmp(argv[2], "check") != 0 || (argc > 3 &&
	    strcmp(argv[3], "--show") != 0) || argc > 4) {
		fprintf(stderr, "usage: bulkhead config check [--show]\n");
		cfg_free(&cfg);
		return 2;
	}
	if (argc > 3)
		cfg_dump(&cfg);
	printf("configuration OK%s%s\n", cfg.config_file ? " (file " : "",
	    cfg.config_file ? cfg.config_file : "");
	if (cfg.config_file)
		printf(")\n");
	/* Say which side of the switch this server is on (issue 13). */
	if (strcmp(cfg.auth, "smart") == 0)
		printf("auth = smart: every bulk endpoint needs a SMART "
		    "Backend Services access token (the default)\n");
	else
		printf("auth = none: the bulk endpoints need no token; for a "
		    "laboratory only, never for real data\n");
	cfg_free(&cfg);
	return 0;
}

static int
cmd_jobs(struct cfg *cfg, int argc, char **argv)
{
	return jobs_cli_main(cfg, argc, argv);
}

static int
cmd_schedules(struct cfg *cfg, int argc, char **argv)
{
	return admin_cli_schedules_main(cfg, argc, argv);
}

static int
cmd_limits(struct cfg *cfg, int argc, char **argv)
{
	return admin_cli_limits_main(cfg, argc, argv);
}

static int
cmd_admins(struct cfg *cfg, int argc, char **argv)
{
	return admins_cli_main(cfg, argc, argv);
}

static int
cmd_clients(struct cfg *cfg, int argc, char **argv)
{
	return clients_cli_main(cfg, argc, argv);
}

static int
cmd_openimis(struct cfg *cfg, int argc, char **argv)
{
	return openimis_cli_main(cfg, argc, argv);
}

static int
cmd_openhim(struct cfg *cfg, int argc, char **argv)
{
	return openhim_cli_main(cfg, argc, argv);
}

static int
cmd_version(struct cfg *cfg, int argc, char **argv)
{
	(void)cfg;
	(void)argc;
	(void)argv;
	printf("bulkhead %s\n", BULKHEAD_VERSION);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct command	*cmd = NULL;
	struct cfg		 cfg;
	enum log_level		 level = LOG_LEVEL_INFO;
	char			 err[1024];
	int			 i, first = 0, rc, help = 0;

	/* The command is the first argument that is not a config flag. */
	for (i = 1; i < argc; i++) {
		if (cfg_is_flag(argv[i])) {
			if (strchr(argv[i], '=') == NULL)
				i++;
			continue;
		}
		first = i;
		break;
	}
	if (first == 0) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[first], "help") == 0 ||
	    strcmp(argv[first], "--help") == 0 ||
	    strcmp(argv[first], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < (int)NCOMMANDS; i++)
		if (strcmp(argv[first], commands[i].c_name) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		fprintf(stderr, "bulkhead: unknown command \"%s\" (try "
		    "'bulkhead help')\n", argv[first]);
		return 2;
	}
	/* --help (or -h) anywhere after the command, before "--". */
	for (i = first + 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			help = 1;
	if (help && cmd->c_usage != NULL) {
		printf("usage: bulkhead [--KEY VALUE ...] %s", cmd->c_usage);
		return 0;
	}
	log_init(cmd->c_name, LOG_LEVEL_INFO);
	if (cmd->c_run == cmd_config)
		return cmd_config(NULL, argc, argv);
	if (!cmd->c_needs_cfg)
		return cmd->c_run(NULL, argc - first, argv + first);

	/* Schedules declared in the file are part of the configuration:
	 * checked here, whichever command runs. */
	if (cfg_load(&cfg, &argc, argv, err, sizeof(err)) == -1 ||
	    schedule_cfg_check(&cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "bulkhead %s: configuration: %s\n",
		    cmd->c_name, err);
		cfg_free(&cfg);
		return 1;
	}
	if (cmd->c_needs_cfg == 2 && !help && cfg.database_url[0] == '\0') {
		fprintf(stderr, "bulkhead %s: configuration: database_url: "
		    "not set (set BULKHEAD_DATABASE_URL, or use 'make run' for "
		    "a private cluster)\n", cmd->c_name);
		cfg_free(&cfg);
		return 1;
	}
	(void)log_level_parse(cfg.log_level, &level);
	log_set_level(level);
	/* cfg_load removed the flags: the command is now argv[1]. */
	rc = cmd->c_run(&cfg, argc - 1, argv + 1);
	cfg_free(&cfg);
	return rc;
}
