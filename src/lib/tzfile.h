/*
 * tzfile.h — local time in an IANA time zone, read from the system's
 * TZif files (RFC 8536) without libc's process-global TZ state.
 *
 * Leaf code: knows nothing of cron or the service.  A zone is loaded
 * from $TZDIR (absolute) or /usr/share/zoneinfo, or decoded from a TZif
 * image in memory, and asked for its UTC offset around an instant: the
 * explicit transitions first, then the footer's POSIX TZ rule
 * ("CET-1CEST,M3.5.0,M10.5.0/3") for the years after them, which matters
 * with "slim" tz data where the explicit list stops early.  "UTC" and
 * "Etc/UTC" are built in (no file needed).  Zones with leap seconds are
 * refused.
 *
 * Nothing is cached and nothing global is touched, so any thread may
 * use it; a struct tzfile belongs to its caller.  Errors: -1 with a
 * one-line reason in the caller's bounded errbuf (R5).
 */
#ifndef LIB_TZFILE_H
#define LIB_TZFILE_H

#include <stddef.h>
#include <stdint.h>

#define TZFILE_NAME_MAX		64		/* zone name bytes, with NUL */
#define TZFILE_SIZE_MAX		(256 * 1024)	/* largest zone file read */
#define TZFILE_OFF_MAX		(26 * 3600)	/* |UTC offset| bound */

/* A rule date of the footer's TZ string.  Private to tzfile.c. */
struct tzfile_date {
	char		 d_kind;	/* 'J' (1-365, no 29 Feb), 'D' (0-365),
					   'M' (month.week.weekday) */
	int		 d_n;		/* J, D: the day number */
	int		 d_month, d_week, d_wday;	/* M */
	int32_t		 d_time;	/* seconds after local midnight */
};

/* A decoded zone.  The members are private to tzfile.c; callers only
 * hold one (on the stack) between tzfile_load or tzfile_parse and
 * tzfile_free. */
struct tzfile {
	uint8_t			*z_buf;		/* owned; NULL: built-in UTC
						 * or tzfile_parse's image */
	const uint8_t		*z_trans;	/* z_timecnt times, BE */
	const uint8_t		*z_idx;		/* type index per transition */
	const uint8_t		*z_types;	/* z_typecnt 6-byte records */
	uint32_t		 z_timecnt;
	uint32_t		 z_typecnt;
	int			 z_tsize;	/* 4 (v1) or 8 bytes per time */
	int32_t			 z_off0;	/* before any transition */
	int			 z_rule;	/* footer has a DST rule */
	int32_t			 z_std;		/* rule: standard offset */
	int32_t			 z_dst;		/* rule: daylight offset */
	struct tzfile_date	 z_start;	/* rule: DST begins (std) */
	struct tzfile_date	 z_end;		/* rule: DST ends (DST time) */
};

/* The part of a zone around one instant: a constant offset. */
struct tzfile_seg {
	int64_t		 g_start;	/* last transition <= t, or INT64_MIN */
	int64_t		 g_end;		/* first transition > t, or INT64_MAX */
	int32_t		 g_off;		/* UTC offset within, seconds */
	int32_t		 g_prev;	/* offset just before g_start */
};

/* 1 if name is a safe zone name: [A-Za-z0-9_+-/], no "..", no leading
 * '/' or '-', 1 to TZFILE_NAME_MAX-1 bytes.  0 otherwise. */
int	tzfile_name_ok(const char *name);

/*
 * Loads zone 'name' into *z (reading the whole file, at most
 * TZFILE_SIZE_MAX bytes).  0, or -1 with the reason ("unknown time zone
 * 'Europe/Berln'", "time zone 'X': truncated TZif file"); *z is then
 * empty.  Release with tzfile_free in both cases.
 */
int	tzfile_load(struct tzfile *z, const char *name, char *errbuf,
	    size_t errlen);

/*
 * Decodes the TZif image buf[0..size) into *z, which then points into
 * buf: the caller keeps buf alive and unchanged while it uses *z.  0, or
 * -1 with the reason ("not a TZif file", "corrupt TZif file", ...).
 */
int	tzfile_parse(struct tzfile *z, const uint8_t *buf, size_t size,
	    char *errbuf, size_t errlen);

/* Frees what tzfile_load allocated; no-op on NULL or an empty zone. */
void	tzfile_free(struct tzfile *z);

/* The UTC offset (seconds, local = UTC + offset) in force at instant t
 * (seconds since the epoch). */
int32_t	tzfile_offset(const struct tzfile *z, int64_t t);

/* The segment of constant offset that contains instant t.  Of rule
 * transitions at the same instant, a DST start counts as after a DST end
 * (all-year DST rules). */
void	tzfile_segment(const struct tzfile *z, int64_t t,
	    struct tzfile_seg *g);

#endif
