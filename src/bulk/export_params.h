/*
 * export_params.h — a $export kick-off turned into job parameters.
 *
 * The API process collects the kick-off's parameters (query string, or a
 * Parameters body for POST) as name/value pairs, and export_params_build
 * validates them all at once and writes the canonical JSON the export
 * job runs from.  Strict handling (the default) rejects the first
 * unsupported or invalid parameter; under Prefer: handling=lenient an
 * unsupported one is dropped and recorded in "warnings", which the job
 * writes to the manifest's error file (EXP-L-*).  A malformed _since or
 * _until is an error even under lenient (EXP-L-05).
 *
 * Canonical params (all optional but level and request):
 *   {"level":"system|patient|group", "group":ID, "request":URL,
 *    "outputFormat":"application/fhir+ndjson", "since":INSTANT,
 *    "until":INSTANT, "types":[T...], "elements":["T.e"|"e"...],
 *    "patients":[ID...], "typeFilters":{"T":[QUERY...]},
 *    "organizeOutputBy":"Patient", "allowPartialManifests":BOOL,
 *    "associated":"latest|relevant" (includeAssociatedData),
 *    "lenient":BOOL, "warnings":[TEXT...]}
 * At Patient and Group level, _type items outside the compartment are
 * left out with a warning even when strict; a _type whose every item is
 * left out is refused (EXP-P-TY-5).  A _since in the future is refused.
 */
#ifndef BULK_EXPORT_PARAMS_H
#define BULK_EXPORT_PARAMS_H

#include <stddef.h>
#include <cjson/cJSON.h>

enum export_level {
	EXPORT_SYSTEM,
	EXPORT_PATIENT,
	EXPORT_GROUP,
};

#define EXPORT_MAX_PAIRS	256	/* parameters in one kick-off */
#define EXPORT_MAX_PATIENTS	10000	/* patient references (POST) */

struct export_pair {
	const char	*ep_name;	/* borrowed */
	const char	*ep_value;	/* borrowed */
};

struct export_kickoff {
	enum export_level	 ek_level;
	const char		*ek_group;	/* group id, or NULL */
	const char		*ek_request;	/* the kick-off URL */
	int			 ek_lenient;	/* Prefer: handling=lenient */
	int			 ek_post;	/* came as a POST body */
	struct export_pair	 ek_pairs[EXPORT_MAX_PAIRS];
	size_t			 ek_npairs;
};

/* Why a kick-off was refused: an HTTP status, an OperationOutcome issue
 * code and a one-line message for diagnostics. */
struct export_error {
	unsigned int	 ee_status;
	const char	*ee_code;	/* static */
	char		 ee_msg[512];
};

/* Adds a pair; -1 (and ee set to 413-like 400) when there are too many. */
int	 export_kickoff_add(struct export_kickoff *, const char *name,
	    const char *value, struct export_error *);
/* Reads a Parameters resource into pairs (values borrowed from body,
 * which must outlive k).  -1 with a 400 in err if it is not one. */
int	 export_kickoff_from_parameters(struct export_kickoff *,
	    const cJSON *body, struct export_error *);
/* Validates and builds the canonical params.  Caller cJSON_Deletes
 * *params.  -1 with err filled when the kick-off must be refused. */
int	 export_params_build(const struct export_kickoff *, cJSON **params,
	    struct export_error *);
/* True if v is a FHIR instant (full date-time with seconds and zone). */
int	 export_valid_instant(const char *v);

#endif
