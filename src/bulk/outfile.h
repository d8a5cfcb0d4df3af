/*
 * outfile.h — writes one resource type's NDJSON lines into a numbered
 * sequence of zstd-compressed files: <dir>/<prefix>-<seq>.ndjson.zst.
 *
 * Each file is written as "<name>.tmp", then fsync'd, renamed to its
 * final name and the directory fsync'd, so a reader (or a crash) never
 * sees a partial file under a final name.  A file is rolled before a
 * line when the current one already holds max_resources lines or the
 * line would take it past max_bytes uncompressed; a line is never split,
 * and a line longer than max_bytes goes alone into its own file (SZ-03,
 * EXP-O-04).  Files are opened lazily on the first line, so a type with
 * no lines produces no file at all (ND-06).
 *
 * Completed files are reported through the outfile_done_fn given to
 * outfile_set_open, called once per file after the rename, whether the
 * file was completed by a roll inside outfile_set_write or by an explicit
 * outfile_set_close_current.  The export worker checkpoints like this:
 * write a batch, outfile_set_close_current, record the checkpoint with
 * outfile_set_next_seq; on resume, open a new set with first_seq = that
 * value.  A crash between a roll and the next checkpoint means files
 * after the checkpoint are written again under the same names (rename
 * replaces them atomically), so the callback should upsert its rows by
 * name, not insert.  A stale "<name>.tmp" left by a crash is truncated
 * when that seq is written again; others are the job directory's owner's
 * to clean.
 *
 * Storage format: one zstd frame per file, checksum flag on, window at
 * most 8 MB (windowLog <= 23, RFC 9659, CMP-03), content size not
 * recorded.  The sha256 of the stored (compressed) bytes is computed as
 * they are written and serves as the file's strong ETag.  Memory is flat
 * (one 128 KB input and one 256 KB output buffer plus the zstd context),
 * whatever the file size.
 *
 * Errors: functions return -1 (or NULL) with a reason in errbuf.  Errors
 * are sticky: after a failed write or close, the set accepts nothing
 * more, and the caller should outfile_set_abort it.  Not thread-safe;
 * one set belongs to one worker.
 */
#ifndef BULK_OUTFILE_H
#define BULK_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#define OUTFILE_SUFFIX		".ndjson.zst"
#define OUTFILE_PREFIX_MAX	64	/* longest prefix accepted */
#define OUTFILE_SEQ_MAX		999999999	/* highest seq */
#define OUTFILE_LEVEL_MAX	19	/* no "ultra" levels for HTTP */

struct outfile_set;

/* One completed file, as handed to the outfile_done_fn.  The strings
 * are borrowed: valid during the callback only. */
struct outfile_info {
	const char	*oi_name;	/* e.g. "Patient-0001.ndjson.zst" */
	const char	*oi_path;	/* dir + "/" + name */
	int		 oi_seq;	/* the <seq> in the name */
	int64_t		 oi_count;	/* lines (resources) */
	int64_t		 oi_bytes;	/* uncompressed, newlines included */
	int64_t		 oi_stored_bytes; /* on disk (compressed) */
	char		 oi_sha256[65];	/* hex sha256 of the stored bytes */
};

/*
 * Called once per completed file, after it is durable under its final
 * name.  The strings in *info are valid only during the call.  Returns 0,
 * or -1 with a reason in errbuf to fail the outfile_set_write or
 * outfile_set_close_current that completed the file (the file stays on
 * disk; the set becomes failed).
 */
typedef int (*outfile_done_fn)(void *arg, const struct outfile_info *info,
	    char *errbuf, size_t errlen);

/*
 * Prepares a set writing into dir (which must exist) with files named
 * "<prefix>-<seq>" + OUTFILE_SUFFIX, seq counting from first_seq (>= 1,
 * zero-padded to at least 4 digits).  prefix is 1..OUTFILE_PREFIX_MAX
 * bytes of [A-Za-z0-9_.-], not starting with '.'.  max_resources and
 * max_bytes bound each file (0 means no limit).  zstd_level is
 * ZSTD_minCLevel()..OUTFILE_LEVEL_MAX (0 means zstd's default).  done
 * may be NULL.  Opens no file yet.  Returns NULL with errbuf set on bad
 * arguments or if dir cannot be opened.  Caller frees with
 * outfile_set_free or outfile_set_abort.
 */
struct outfile_set *outfile_set_open(const char *dir, const char *prefix,
	    int first_seq, int64_t max_resources, int64_t max_bytes,
	    int zstd_level, outfile_done_fn done, void *done_arg,
	    char *errbuf, size_t errlen);

/*
 * Appends line (len bytes, no trailing newline) and a "\n" to the current
 * file, first completing the current file (done is called) when the line
 * does not fit, and opening a file when none is open.  A line that is
 * empty or contains "\n" is refused (-1) without failing the set.
 * Returns 0, or -1 with errbuf set.
 */
int	outfile_set_write(struct outfile_set *, const char *line, size_t len,
	    char *errbuf, size_t errlen);

/*
 * Completes the current file, if one is open (done is called), so that
 * the next write starts a new file with the next seq.  A no-op returning
 * 0 when no file is open.  Use at checkpoints and at the end of the
 * type.  Returns 0, or -1 with errbuf set (the .tmp is removed).
 */
int	outfile_set_close_current(struct outfile_set *, char *errbuf,
	    size_t errlen);

/* The seq the next file will get: first_seq plus files completed or
 * open.  After outfile_set_close_current, the value to checkpoint. */
int	outfile_set_next_seq(const struct outfile_set *);

/* Lines in the file currently open (0 when none). */
int64_t	outfile_set_current_count(const struct outfile_set *);

/* Removes the current .tmp file, if any, and frees.  NULL is a no-op. */
void	outfile_set_abort(struct outfile_set *);

/*
 * Frees the set.  A file still open is discarded as by
 * outfile_set_abort (never silently completed, since that can fail):
 * call outfile_set_close_current first.  NULL is a no-op.
 */
void	outfile_set_free(struct outfile_set *);

#endif
