/*
 * cli_cmd.h — the skeleton every "bulkhead CMD SUB ..." command shares:
 * help, the subcommand table, options (admin_client_args), which options
 * a subcommand takes, missing positionals, and the usage errors.
 *
 * Each command keeps its own row type whose first member is a struct
 * cli_cmd_row (its run function differs per command) and hands the
 * table to cli_cmd_parse with the row size.  Exit statuses: 0 after
 * help, 2 after a usage error; messages go to stderr, help to stdout.
 */
#ifndef CLI_CLI_CMD_H
#define CLI_CLI_CMD_H

#include <stddef.h>
#include <stdio.h>

struct admin_opt;

struct cli_cmd_row {
	const char	*cr_name;	/* "list" */
	const char	*cr_opts;	/* options it takes, comma-separated */
	int		 cr_minpos;
	int		 cr_maxpos;	/* at most the caller's pos[] */
	const char	*cr_posname;	/* "missing ..." names this */
};

struct cli_cmd_table {
	const char		*ct_cmd;	/* "jobs" */
	/* Rows of the command's own type, each starting with a struct
	 * cli_cmd_row. */
	const void		*ct_rows;
	size_t			 ct_nrows;
	size_t			 ct_rowsize;	/* sizeof a row */
	/* The subcommand when none is given or an option comes first;
	 * NULL: one is required. */
	const char		*ct_default;
	void			(*ct_usage)(FILE *);
	struct admin_opt	*ct_opts;	/* all the command's options */
	size_t			 ct_nopts;
};

/*
 * Parses argv (argv[0] the command, argv[1] the subcommand) against t:
 * options go into t->ct_opts, positionals into pos[0..*npos), prog gets
 * "bulkhead CMD SUB".  "help", --help or -h as the subcommand, or --help
 * or -h after it, prints the usage on stdout (*rc 0).  Returns the
 * matched row, or NULL with *rc the exit status (help, or a usage error
 * already printed).
 */
const void	*cli_cmd_parse(const struct cli_cmd_table *t, int argc,
		    char **argv, const char **pos, int *npos, char *prog,
		    size_t proglen, int *rc);

#endif
