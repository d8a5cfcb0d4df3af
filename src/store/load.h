/*
 * load.h — NDJSON into the resource store through COPY.
 *
 * The same code serves 'bulkhead load' and $import.  A load session runs
 * inside the caller's transaction: load_session_line validates a line and
 * streams its row into one open COPY; load_session_finish ends the COPY
 * and, in merge mode, upserts the staged rows (a new version only when
 * the content changed; the last of duplicate ids in a session wins).
 *
 * LOAD_DIRECT copies straight into the resources table: the fast path for
 * a store that does not hold these ids yet.  It fails with a unique
 * violation (load_session_finish returns LOAD_CONFLICT) if any id exists
 * or repeats; the caller then rolls back and loads again with LOAD_MERGE.
 */
#ifndef STORE_LOAD_H
#define STORE_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

struct buf;
struct cfg;
struct load_session;
struct ndjson_resource;

/*
 * The upsert rule, written once for every path that merges rows into
 * the store ('bulkhead load', $import's merge mode and its staged
 * inputs).  sel is a string-literal SELECT yielding, in order: type, id,
 * the version step (1 for a row that may exist; a new row is stored with
 * it as its version), last_updated, patient, false (deleted) and content.
 * A row whose content is unchanged (and not deleted) keeps its version
 * and last_updated; any other existing row gets version + step and the
 * new values.  The caller makes the ids unique within sel.
 */
#define LOAD_UPSERT(sel)						\
	"INSERT INTO resources AS r (type, id, version, last_updated, "	\
	"patient, deleted, content) " sel " "				\
	"ON CONFLICT (type, id) DO UPDATE SET "				\
	"version = r.version + excluded.version, "			\
	"last_updated = excluded.last_updated, "			\
	"patient = excluded.patient, deleted = false, "			\
	"content = excluded.content "					\
	"WHERE r.deleted OR r.content IS DISTINCT FROM excluded.content"

enum load_mode {
	LOAD_DIRECT,
	LOAD_MERGE,
	LOAD_STAGE,	/* into lo_stage_table only; the caller merges */
};

enum load_result {
	LOAD_OK = 0,
	LOAD_BAD_LINE = 1,	/* line rejected; reason in errbuf; no row sent */
	LOAD_CONFLICT = 2,	/* direct mode met an existing id (or, under
				 * lock_timeout, one another transaction holds) */
	LOAD_ERROR = -1,	/* database failure; the transaction is dead */
};

struct load_stats {
	int64_t	ls_rows;	/* rows sent to COPY */
	int64_t	ls_bytes;	/* bytes of JSON sent */
	int64_t	ls_changed;	/* rows inserted or updated */
};

struct load_options {
	/* Keep meta.lastUpdated from the content as the row's last_updated
	 * (otherwise the transaction time).  Rows without one always get
	 * the transaction time. */
	int		 lo_keep_last_updated;
	/* If set, every line's resourceType must equal it. */
	const char	*lo_expect_type;
	/* LOAD_STAGE: a table (seq bigint, off bigint, type, id,
	 * last_updated, patient, content) that receives the rows, seq and
	 * off as load_session_row gives them; trusted SQL identifier. */
	const char	*lo_stage_table;
};

/* Starts COPY on conn, which must be inside a transaction.  Returns NULL
 * with errbuf set on failure.  Free with load_session_free. */
struct load_session *load_session_begin(PGconn *, enum load_mode,
	    const struct load_options *, char *errbuf, size_t errlen);
/* Validates one line (no trailing newline) and queues its row. */
enum load_result load_session_line(struct load_session *, const char *line,
	    size_t len, char *errbuf, size_t errlen);
/* Queues the row of a line the caller has parsed and checked already
 * (ndjson_parse or validate_line filled r from this very line), so the
 * line is not scanned again; seq and off are LOAD_STAGE's columns.
 * LOAD_CONFLICT: direct mode met an existing id before the end (the
 * COPY is over; roll back). */
enum load_result load_session_row(struct load_session *,
	    const struct ndjson_resource *r, const char *line, size_t len,
	    int64_t seq, int64_t off, char *errbuf, size_t errlen);
/* Formats the COPY row of a parsed line as session s would send it
 * (its mode, options and transaction time) and appends it to out, for a
 * caller that batches rows itself and sends them with load_session_put
 * on a session of the same mode and options.  Thread-safe: reads s only.
 * 0, or -1 if out is full. */
int	load_format_row(struct buf *out, const struct load_session *s,
	    const struct ndjson_resource *r, const char *line, size_t len,
	    int64_t seq, int64_t off);
/* Sends whole rows load_format_row made (no stats kept).  LOAD_CONFLICT
 * or LOAD_ERROR when the server has ended the COPY. */
enum load_result load_session_put(struct load_session *, const char *rows,
	    size_t len, char *errbuf, size_t errlen);
/* Ends the COPY (and merges).  Fills stats. */
enum load_result load_session_finish(struct load_session *,
	    struct load_stats *, char *errbuf, size_t errlen);
/* Aborts a COPY still open and frees; NULL is a no-op. */
void	load_session_free(struct load_session *);

/* 'bulkhead load DIR|FILE...'; argv[0] == "load". */
int	load_main(struct cfg *, int argc, char **argv);

#endif
