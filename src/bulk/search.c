/*
 * search.c — compiles a FHIR search query (one _typeFilter entry) into a
 * parameterised SQL boolean expression over the resources table.
 *
 * DESIGN
 * Each supported parameter is a row in a per-type table that says how to
 * find its element in the stored JSON (a member path such as
 * "name[].family", where "[]" marks an array) and which of a few
 * strategies compiles it:
 *
 *   token, reference  JSON containment: every OR value becomes a small
 *                     document ({"gender":"female"},
 *                     {"identifier":[{"system":"s","value":"v"}]}) and
 *                     the clause is (content::jsonb) @> ANY($N::jsonb[]),
 *                     one parameter for all values.  "|value" (an
 *                     identifier or coding without a system) cannot be
 *                     said by containment and uses a jsonpath with the
 *                     values passed in as a vars array.
 *   string            jsonb_path_query over the element's strings joined
 *                     with unnest($N::text[]): case-insensitive prefix by
 *                     default, :contains, :exact.
 *   date              the stored value, checked by a regular expression and
 *                     day arithmetic so that a malformed one (e.g.
 *                     "1990-02-30") simply does not match instead of
 *                     aborting the export, becomes a
 *                     range [rs, re) of its precision (a dateTime with a
 *                     time is the instant [t, t+1us)); the query value
 *                     becomes [ps, pe) computed here; the prefixes compare
 *                     the two ranges as FHIR R4 search.html#prefix says.
 *                     A Period is [start, end + its precision), an absent
 *                     start or end is open.  _lastUpdated compares the
 *                     last_updated column as a point, so its index works.
 *
 * Values without a time zone are UTC, in the query and in the store; the
 * SQL never depends on the session's TimeZone (calendar arithmetic is
 * done on timestamp, not timestamptz).  Codes compare exactly, case
 * included (FHIR token rules): openIMIS writes Group.type "Person", which
 * type=person does not match.
 *
 * Cost (200,000 Patients, PostgreSQL 15): a token or string clause adds
 * little to the content::jsonb parse itself; a date clause costs about
 * 10 us per row, the shape test included.
 *
 * Every user value goes into ss_params; the SQL text is assembled from
 * the constant fragments below only.  All input is bounded (search.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulk/search.h"
#include "lib/civil.h"
#include "lib/buf.h"
#include "lib/xmalloc.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define PATH_MAX_SEGS	8
#define SHOW_MAX	64	/* bytes of user text quoted in an error */
#define ID_MAX		64	/* FHIR id: [A-Za-z0-9.-]{1,64} */

enum how_kind {
	HOW_ID,		/* token on the id column */
	HOW_UPDATED,	/* date on the last_updated column */
	HOW_CODE,	/* token on code (or string/uri) elements */
	HOW_BOOL,	/* token on boolean elements */
	HOW_IDENT,	/* token on Identifier elements */
	HOW_CONCEPT,	/* token on CodeableConcept elements */
	HOW_STRING,	/* string elements */
	HOW_REF,	/* Reference elements */
	HOW_DATE,	/* date, dateTime or instant elements */
	HOW_PERIOD	/* Period elements */
};

struct search_how {
	enum how_kind		 h_kind;
	const char		*h_path;	/* member path, or NULL */
	const char *const	*h_targets;	/* HOW_REF: NULL-ended */
};

struct search_type {
	const char			*st_name;
	const struct search_param	*st_params;
	size_t				 st_nparams;
};

enum prefix {
	PFX_EQ, PFX_NE, PFX_GT, PFX_LT, PFX_GE, PFX_LE, PFX_SA, PFX_EB
};

struct val {
	const char	*v_p;		/* raw: FHIR escapes intact */
	size_t		 v_n;
};

/* One name=value part, decoded. */
struct term {
	const struct search_param *t_param;
	const char	*t_mod;		/* after ':', or NULL */
	const char	*t_value;	/* the decoded value */
	struct val	 t_vals[SEARCH_MAX_VALUES]; /* split on ',' */
	size_t		 t_nvals;
};

/* Compile state. */
struct sc {
	const struct search_type *c_type;
	struct search_sql	*c_out;
	int			 c_first;	/* number of the first $N */
	int			 c_full;	/* an append hit its bound */
	char			*c_err;
	size_t			 c_errlen;
};

/*
 * The tables.  Definitions are the FHIR R4 canonical URLs (several R4
 * parameters are shared between types: individual-*, medications-code).
 */
#define FHIR_SP		"http://hl7.org/fhir/SearchParameter/"
#define HOW(k, p)	(&(const struct search_how){ (k), (p), NULL })
#define REFTO(p, ...)	(&(const struct search_how){ HOW_REF, (p),	\
	(const char *const []){ __VA_ARGS__, NULL } })

#define DOC_TOKEN	" Token: code, system|code, |code or system|; :not."
#define DOC_CODE	" Token on a code (its system is implied, so a" \
	" system given as system|code is not compared); :not."
#define DOC_STRING	" Case-insensitive prefix match (not accent-" \
	"insensitive); :exact, :contains."
#define DOC_REF		" Reference: Type/id or a bare id; an absolute" \
	" URL is compared literally."

#define P_ID { "_id", SEARCH_TOKEN, FHIR_SP "Resource-id",		\
	"Logical id of the resource; ids separated by commas are ORed; :not.",\
	HOW(HOW_ID, NULL) }
#define P_UPDATED { "_lastUpdated", SEARCH_DATE,			\
	FHIR_SP "Resource-lastUpdated",					\
	"When the stored version was last changed (the server's record," \
	" compared as an instant); prefixes eq ne gt lt ge le sa eb.",	\
	HOW(HOW_UPDATED, NULL) }
#define P_IDENT(t) { "identifier", SEARCH_TOKEN, FHIR_SP t "-identifier",\
	"A business identifier (value, system|value, |value or system|);" \
	" :not.", HOW(HOW_IDENT, "identifier[]") }
#define P_STATUS(t) { "status", SEARCH_TOKEN, FHIR_SP t "-status",	\
	"The status code." DOC_CODE, HOW(HOW_CODE, "status") }

static const struct search_param patient_params[] = {
	P_ID, P_UPDATED, P_IDENT("Patient"),
	{ "gender", SEARCH_TOKEN, FHIR_SP "individual-gender",
	    "Administrative gender (male, female, other, unknown)." DOC_CODE,
	    HOW(HOW_CODE, "gender") },
	{ "birthdate", SEARCH_DATE, FHIR_SP "individual-birthdate",
	    "Date of birth; prefixes eq ne gt lt ge le sa eb with FHIR range"
	    " semantics.", HOW(HOW_DATE, "birthDate") },
	{ "family", SEARCH_STRING, FHIR_SP "individual-family",
	    "A family name (name.family)." DOC_STRING,
	    HOW(HOW_STRING, "name[].family") },
	{ "given", SEARCH_STRING, FHIR_SP "individual-given",
	    "A given name (name.given)." DOC_STRING,
	    HOW(HOW_STRING, "name[].given[]") },
	{ "active", SEARCH_TOKEN, FHIR_SP "Patient-active",
	    "Whether the record is active (true or false).",
	    HOW(HOW_BOOL, "active") },
	{ "general-practitioner", SEARCH_REFERENCE,
	    FHIR_SP "Patient-general-practitioner",
	    "The nominated care provider (openIMIS: the first-service-point"
	    " health facility)." DOC_REF,
	    REFTO("generalPractitioner[]", "Organization", "Practitioner",
	    "PractitionerRole") },
};

static const struct search_param group_params[] = {
	P_ID, P_UPDATED, P_IDENT("Group"),
	{ "type", SEARCH_TOKEN, FHIR_SP "Group-type",
	    "The kind of members (Group.type: person, animal, ...; openIMIS"
	    " families are persons)." DOC_CODE, HOW(HOW_CODE, "type") },
	{ "actual", SEARCH_TOKEN, FHIR_SP "Group-actual",
	    "Whether the group is actual or descriptive (true or false).",
	    HOW(HOW_BOOL, "actual") },
	{ "member", SEARCH_REFERENCE, FHIR_SP "Group-member",
	    "A member of the group (member.entity)." DOC_REF,
	    REFTO("member[].entity", "Patient", "Practitioner",
	    "PractitionerRole", "Device", "Medication", "Substance", "Group") },
};

static const struct search_param coverage_params[] = {
	P_ID, P_UPDATED, P_IDENT("Coverage"), P_STATUS("Coverage"),
	{ "beneficiary", SEARCH_REFERENCE, FHIR_SP "Coverage-beneficiary",
	    "The insured person." DOC_REF,
	    REFTO("beneficiary", "Patient") },
	{ "patient", SEARCH_REFERENCE, FHIR_SP "Coverage-patient",
	    "The insured person (same element as beneficiary)." DOC_REF,
	    REFTO("beneficiary", "Patient") },
	{ "payor", SEARCH_REFERENCE, FHIR_SP "Coverage-payor",
	    "Who pays (payor)." DOC_REF,
	    REFTO("payor[]", "Organization", "Patient", "RelatedPerson") },
	{ "policy-holder", SEARCH_REFERENCE, FHIR_SP "Coverage-policy-holder",
	    "Who owns the policy (policyHolder)." DOC_REF,
	    REFTO("policyHolder", "Organization", "Patient",
	    "RelatedPerson") },
	{ "class-type", SEARCH_TOKEN, FHIR_SP "Coverage-class-type",
	    "The type of a coverage class (class.type)." DOC_TOKEN,
	    HOW(HOW_CONCEPT, "class[].type") },
	{ "class-value", SEARCH_TOKEN, FHIR_SP "Coverage-class-value",
	    "The value of a coverage class (openIMIS: the product code)."
	    DOC_CODE, HOW(HOW_CODE, "class[].value") },
	{ "period", SEARCH_DATE, NULL,
	    "Bulkhead's own: the coverage period (period.start..period.end;"
	    " an absent end is open).  Prefixes compare ranges as FHIR does:"
	    " eq = period within the value's range, ne = not eq, gt/lt ="
	    " the period reaches past the range's end/before its start,"
	    " ge = gt or eq, le = lt or eq, sa = starts after the range,"
	    " eb = ends before it.", HOW(HOW_PERIOD, "period") },
};

static const struct search_param claim_params[] = {
	P_ID, P_UPDATED, P_IDENT("Claim"), P_STATUS("Claim"),
	{ "use", SEARCH_TOKEN, FHIR_SP "Claim-use",
	    "claim, preauthorization or predetermination." DOC_CODE,
	    HOW(HOW_CODE, "use") },
	{ "created", SEARCH_DATE, FHIR_SP "Claim-created",
	    "When the claim was created (openIMIS: date claimed); prefixes"
	    " eq ne gt lt ge le sa eb.", HOW(HOW_DATE, "created") },
	{ "patient", SEARCH_REFERENCE, FHIR_SP "Claim-patient",
	    "The patient the claim is for." DOC_REF,
	    REFTO("patient", "Patient") },
	{ "provider", SEARCH_REFERENCE, FHIR_SP "Claim-provider",
	    "The provider (openIMIS: the health facility)." DOC_REF,
	    REFTO("provider", "Organization", "Practitioner",
	    "PractitionerRole") },
	{ "enterer", SEARCH_REFERENCE, FHIR_SP "Claim-enterer",
	    "Who entered the claim (openIMIS: the claim administrator)."
	    DOC_REF, REFTO("enterer", "Practitioner", "PractitionerRole") },
	{ "insurer", SEARCH_REFERENCE, FHIR_SP "Claim-insurer",
	    "The target insurer." DOC_REF, REFTO("insurer", "Organization") },
	{ "facility", SEARCH_REFERENCE, FHIR_SP "Claim-facility",
	    "Where the service was rendered." DOC_REF,
	    REFTO("facility", "Location") },
	{ "priority", SEARCH_TOKEN, FHIR_SP "Claim-priority",
	    "Processing priority." DOC_TOKEN,
	    HOW(HOW_CONCEPT, "priority") },
};

static const struct search_param claimresponse_params[] = {
	P_ID, P_UPDATED, P_IDENT("ClaimResponse"), P_STATUS("ClaimResponse"),
	{ "use", SEARCH_TOKEN, FHIR_SP "ClaimResponse-use",
	    "claim, preauthorization or predetermination." DOC_CODE,
	    HOW(HOW_CODE, "use") },
	{ "outcome", SEARCH_TOKEN, FHIR_SP "ClaimResponse-outcome",
	    "queued, complete, error or partial." DOC_CODE,
	    HOW(HOW_CODE, "outcome") },
	{ "created", SEARCH_DATE, FHIR_SP "ClaimResponse-created",
	    "When the response was created; prefixes eq ne gt lt ge le sa"
	    " eb.", HOW(HOW_DATE, "created") },
	{ "request", SEARCH_REFERENCE, FHIR_SP "ClaimResponse-request",
	    "The claim this responds to." DOC_REF,
	    REFTO("request", "Claim") },
	{ "patient", SEARCH_REFERENCE, FHIR_SP "ClaimResponse-patient",
	    "The patient." DOC_REF, REFTO("patient", "Patient") },
	{ "insurer", SEARCH_REFERENCE, FHIR_SP "ClaimResponse-insurer",
	    "The insurer that produced the response." DOC_REF,
	    REFTO("insurer", "Organization") },
	{ "requestor", SEARCH_REFERENCE, FHIR_SP "ClaimResponse-requestor",
	    "Who asked for the adjudication." DOC_REF,
	    REFTO("requestor", "Organization", "Practitioner",
	    "PractitionerRole") },
	{ "disposition", SEARCH_STRING, FHIR_SP "ClaimResponse-disposition",
	    "The disposition message." DOC_STRING,
	    HOW(HOW_STRING, "disposition") },
};

static const struct search_param location_params[] = {
	P_ID, P_UPDATED, P_IDENT("Location"), P_STATUS("Location"),
	{ "name", SEARCH_STRING, FHIR_SP "Location-name",
	    "The location's name (Location.name; alias is not searched)."
	    DOC_STRING, HOW(HOW_STRING, "name") },
	{ "type", SEARCH_TOKEN, FHIR_SP "Location-type",
	    "The kind of location (openIMIS: region, district, ward, village"
	    " or a health facility site)." DOC_TOKEN,
	    HOW(HOW_CONCEPT, "type[]") },
	{ "partof", SEARCH_REFERENCE, FHIR_SP "Location-partof",
	    "The enclosing location." DOC_REF, REFTO("partOf", "Location") },
};

static const struct search_param organization_params[] = {
	P_ID, P_UPDATED, P_IDENT("Organization"),
	{ "name", SEARCH_STRING, FHIR_SP "Organization-name",
	    "The organization's name (Organization.name; alias is not"
	    " searched)." DOC_STRING, HOW(HOW_STRING, "name") },
	{ "type", SEARCH_TOKEN, FHIR_SP "Organization-type",
	    "The kind of organization (openIMIS: prov, bus, ins)." DOC_TOKEN,
	    HOW(HOW_CONCEPT, "type[]") },
	{ "active", SEARCH_TOKEN, FHIR_SP "Organization-active",
	    "Whether the record is active (true or false).",
	    HOW(HOW_BOOL, "active") },
	{ "partof", SEARCH_REFERENCE, FHIR_SP "Organization-partof",
	    "The parent organization." DOC_REF,
	    REFTO("partOf", "Organization") },
};

static const struct search_param practitioner_params[] = {
	P_ID, P_UPDATED, P_IDENT("Practitioner"),
	{ "family", SEARCH_STRING, FHIR_SP "individual-family",
	    "A family name (name.family)." DOC_STRING,
	    HOW(HOW_STRING, "name[].family") },
	{ "given", SEARCH_STRING, FHIR_SP "individual-given",
	    "A given name (name.given)." DOC_STRING,
	    HOW(HOW_STRING, "name[].given[]") },
	{ "active", SEARCH_TOKEN, FHIR_SP "Practitioner-active",
	    "Whether the record is active (true or false).",
	    HOW(HOW_BOOL, "active") },
};

static const struct search_param insuranceplan_params[] = {
	P_ID, P_UPDATED, P_IDENT("InsurancePlan"), P_STATUS("InsurancePlan"),
	{ "name", SEARCH_STRING, FHIR_SP "InsurancePlan-name",
	    "The plan's name (InsurancePlan.name; alias is not searched)."
	    DOC_STRING, HOW(HOW_STRING, "name") },
};

static const struct search_param medication_params[] = {
	P_ID, P_UPDATED, P_STATUS("Medication"),
	{ "code", SEARCH_TOKEN, FHIR_SP "medications-code",
	    "A code for the medication (Medication.code)." DOC_TOKEN,
	    HOW(HOW_CONCEPT, "code") },
};

static const struct search_param activitydefinition_params[] = {
	P_ID, P_UPDATED, P_IDENT("ActivityDefinition"),
	P_STATUS("ActivityDefinition"),
	{ "name", SEARCH_STRING, FHIR_SP "ActivityDefinition-name",
	    "The computer-friendly name." DOC_STRING,
	    HOW(HOW_STRING, "name") },
};

static const struct search_type search_types[] = {
	{ "Patient", patient_params, NELEM(patient_params) },
	{ "Group", group_params, NELEM(group_params) },
	{ "Coverage", coverage_params, NELEM(coverage_params) },
	{ "Claim", claim_params, NELEM(claim_params) },
	{ "ClaimResponse", claimresponse_params, NELEM(claimresponse_params) },
	{ "Location", location_params, NELEM(location_params) },
	{ "Organization", organization_params, NELEM(organization_params) },
	{ "Practitioner", practitioner_params, NELEM(practitioner_params) },
	{ "InsurancePlan", insuranceplan_params, NELEM(insuranceplan_params) },
	{ "Medication", medication_params, NELEM(medication_params) },
	{ "ActivityDefinition", activitydefinition_params,
	    NELEM(activitydefinition_params) },
};

/* Search result parameters, which a _typeFilter must not carry
 * (EXP-P-TF-2), and the other request-control parameters. */
static const char *const result_params[] = {
	"_count", "_sort", "_include", "_revinclude", "_elements",
	"_summary", "_total", "_contained", "_containedType", "_format",
	"_pretty", "_maxresults",
};

static const char *const prefixes[] = {
	[PFX_EQ] = "eq", [PFX_NE] = "ne", [PFX_GT] = "gt", [PFX_LT] = "lt",
	[PFX_GE] = "ge", [PFX_LE] = "le", [PFX_SA] = "sa", [PFX_EB] = "eb",
};

/*
 * Prefix semantics.  The target is [%S, %E) (a point: %S alone), the
 * query value's range is [%a, %b).  Range rules per R4 search.html#prefix:
 * eq: the value's range contains the target; gt: the target reaches past
 * the value's end; ge: gt or eq; sa: starts at or after the end; eb: ends
 * at or before the start.
 */
static const char *const range_tmpl[] = {
	[PFX_EQ] = "(%S >= %a AND %E <= %b)",
	[PFX_NE] = "NOT (%S >= %a AND %E <= %b)",
	[PFX_GT] = "%E > %b",
	[PFX_LT] = "%S < %a",
	[PFX_GE] = "(%E > %b OR %S >= %a)",
	[PFX_LE] = "(%S < %a OR %E <= %b)",
	[PFX_SA] = "%S >= %b",
	[PFX_EB] = "%E <= %a",
};
static const char *const point_tmpl[] = {
	[PFX_EQ] = "(%S >= %a AND %S < %b)",
	[PFX_NE] = "(%S < %a OR %S >= %b)",
	[PFX_GT] = "%S >= %b",
	[PFX_LT] = "%S < %a",
	[PFX_GE] = "%S >= %a",
	[PFX_LE] = "%S < %b",
	[PFX_SA] = "%S >= %b",
	[PFX_EB] = "%S < %a",
};

/*
 * Stored date shapes (PostgreSQL ARE syntax): YYYY, YYYY-MM, YYYY-MM-DD,
 * then an optional time and zone.  The day is checked against its month
 * and year by arithmetic in emit_shape(): a leap-year regular expression
 * costs three times as much per row.
 */
#define RE_STORED						\
	"^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01])"		\
	"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,9})?)?"	\
	"(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?)?)?)?$"
#define RE_ZONE		"(Z|[+-][0-9]{2}:[0-9]{2})$"

#define SQL_ARRAY_CONTAINS	"(content::jsonb) @> ANY($%d::jsonb[])"

static int	 fail(struct sc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static const char *show(char *, size_t, const char *, size_t);
static void	 sql(struct sc *, const char *);
static void	 sqlf(struct sc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	 param_add(struct sc *, struct buf *);
static void	 arr_add(struct sc *, struct buf *, const char *, size_t);
static void	 arr_close(struct sc *, struct buf *);
static int	 utf8_valid(const unsigned char *, size_t);
static int	 hexval(int);
static int	 pct_decode(struct sc *, const char *, size_t, struct buf *);
static int	 split_values(struct sc *, struct term *);
static char	*unescape(const char *, size_t);
static const char *find_bar(const char *, size_t);
static int	 valid_id(const char *, size_t);
static int	 path_segs(const char *, const char **, size_t *, int *);
static void	 path_jsonpath(struct sc *, const char *);
static void	 doc_open(struct sc *, struct buf *, const char *);
static void	 doc_close(struct sc *, struct buf *, const char *);
static void	 doc_str(struct sc *, struct buf *, const char *);
static const struct search_type *type_find(const char *);
static const struct search_param *param_find(const struct search_type *,
		    const char *);
static int	 compile_missing(struct sc *, struct term *);
static int	 compile_id(struct sc *, struct term *, int);
static int	 compile_token(struct sc *, struct term *, int);
static int	 compile_string(struct sc *, struct term *);
static void	 ref_doc(struct sc *, struct buf *, const char *,
		    const char *);
static int	 compile_ref(struct sc *, struct term *, const char *);
static int	 compile_date(struct sc *, struct term *);
static int	 compile_term(struct sc *, struct term *);
static int	 compile_part(struct sc *, const char *, size_t);
static int	 digits(const char *, size_t, size_t, unsigned *);
static int	 parse_date(const char *, size_t, int64_t *, int64_t *);
static void	 fmt_instant(int64_t, char *, size_t);
static void	 emit_shape(struct sc *, const char *);
static void	 emit_stored_start(struct sc *, const char *, const char *,
		    int);
static void	 emit_stored_end(struct sc *, const char *, const char *,
		    int);
static void	 emit_range_from(struct sc *, const struct search_how *);
static void	 emit_tmpl(struct sc *, const char *, const char *,
		    const char *, int, int);

void
search_sql_init(struct search_sql *ss)
{
	buf_init(&ss->ss_where, SEARCH_MAX_SQL);
	ss->ss_params = NULL;
	ss->ss_nparams = 0;
}

void
search_sql_free(struct search_sql *ss)
{
	int	i;

	buf_free(&ss->ss_where);
	for (i = 0; i < ss->ss_nparams; i++)
		free(ss->ss_params[i]);
	free(ss->ss_params);
	search_sql_init(ss);
}

const char *
search_ptype_name(enum search_ptype t)
{
	switch (t) {
	case SEARCH_TOKEN:
		return "token";
	case SEARCH_DATE:
		return "date";
	case SEARCH_STRING:
		return "string";
	case SEARCH_REFERENCE:
		return "reference";
	}
	return "?";
}

static const struct search_type *
type_find(const char *type)
{
	size_t	i;

	if (type == NULL)
		return NULL;
	for (i = 0; i < NELEM(search_types); i++)
		if (strcmp(search_types[i].st_name, type) == 0)
			return &search_types[i];
	return NULL;
}

const struct search_param *
search_params(const char *type, size_t *n)
{
	const struct search_type	*st = type_find(type);

	if (st == NULL) {
		*n = 0;
		return NULL;
	}
	*n = st->st_nparams;
	return st->st_params;
}

int
search_type_supported(const char *type)
{
	return type_find(type) != NULL;
}

static const struct search_param *
param_find(const struct search_type *st, const char *name)
{
	size_t	i;

	for (i = 0; i < st->st_nparams; i++)
		if (strcmp(st->st_params[i].sp_name, name) == 0)
			return &st->st_params[i];
	return NULL;
}

/* Formats the reason into the caller's errbuf; returns -1. */
static int
fail(struct sc *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->c_err != NULL && c->c_errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(c->c_err, c->c_errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Copies user text for an error message: at most SHOW_MAX bytes, and
 * bytes that are not printable ASCII replaced by '?', so the message is
 * always safe to log and to put in JSON.  Returns dst. */
static const char *
show(char *dst, size_t size, const char *s, size_t n)
{
	size_t	i, o = 0;

	for (i = 0; i < n && o + 4 < size; i++) {
		if (i == SHOW_MAX) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		dst[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	}
	dst[o] = '\0';
	return dst;
}

/* Appends to the SQL text; a full buffer makes the compile fail at the
 * end (sticky, so the emitters need not check every append). */
static void
sql(struct sc *c, const char *s)
{
	if (buf_puts(&c->c_out->ss_where, s) == -1)
		c->c_full = 1;
}

static void
sqlf(struct sc *c, const char *fmt, ...)
{
	struct buf	*b = &c->c_out->ss_where;
	va_list		 ap;
	char		 tmp[1024];
	int		 n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	/* Only constant fragments and numbers come here: never long. */
	if (n < 0 || (size_t)n >= sizeof(tmp) ||
	    buf_append(b, tmp, (size_t)n) == -1)
		c->c_full = 1;
}

/* Moves 'val' into the next parameter slot (val is re-initialised);
 * returns its $N, or -1 when the query needs too many. */
static int
param_add(struct sc *c, struct buf *val)
{
	struct search_sql	*o = c->c_out;
	char			*s;

	if (o->ss_nparams >= SEARCH_MAX_PARAMS)
		return fail(c, "the query needs more than %d bound values",
		    SEARCH_MAX_PARAMS);
	s = buf_steal(val, NULL);
	o->ss_params[o->ss_nparams++] = s;
	buf_init(val, SEARCH_MAX_PARAM_LEN);
	return c->c_first + o->ss_nparams - 1;
}

/* Adds one element to a PostgreSQL array literal being built in 'b'
 * ("{" is written before the first).  Elements are always quoted. */
static void
arr_add(struct sc *c, struct buf *b, const char *s, size_t n)
{
	size_t	i;
	int	rc;

	rc = buf_puts(b, b->b_len == 0 ? "{\"" : ",\"");
	for (i = 0; i < n && rc == 0; i++) {
		if (s[i] == '"' || s[i] == '\\')
			rc = buf_putc(b, '\\');
		if (rc == 0)
			rc = buf_putc(b, s[i]);
	}
	if (rc == 0)
		rc = buf_putc(b, '"');
	if (rc == -1)
		c->c_full = 1;
}

static void
arr_close(struct sc *c, struct buf *b)
{
	if (buf_puts(b, b->b_len == 0 ? "{}" : "}") == -1)
		c->c_full = 1;
}

/* RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t		i = 0, k, len;
	uint32_t	cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2, cp = s[i] & 0x1f, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3, cp = s[i] & 0x0f, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4, cp = s[i] & 0x07, min = 0x10000;
		} else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* application/x-www-form-urlencoded decoding of s[0..n) into 'out':
 * "+" is a space and %XX a byte; the result must be UTF-8 without NUL. */
static int
pct_decode(struct sc *c, const char *s, size_t n, struct buf *out)
{
	char	tmp[SHOW_MAX + 8];
	size_t	i;
	int	hi, lo;
	char	ch;

	buf_reset(out);
	for (i = 0; i < n; i++) {
		ch = s[i];
		if (ch == '+')
			ch = ' ';
		else if (ch == '%') {
			hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
			lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
			if (hi == -1 || lo == -1)
				return fail(c, "bad percent-escape '%s'",
				    show(tmp, sizeof(tmp), s + i,
				    n - i < 3 ? n - i : 3));
			ch = (char)(hi << 4 | lo);
			i += 2;
			if (ch == '\0')
				return fail(c, "'%%00' (NUL) is not allowed in"
				    " '%s'", show(tmp, sizeof(tmp), s, n));
		} else if (ch == '\0')
			return fail(c, "NUL byte in the query");
		if (buf_putc(out, ch) == -1)
			return fail(c, "query too long");
	}
	if (!utf8_valid((const unsigned char *)out->b_data, out->b_len))
		return fail(c, "'%s' is not valid UTF-8 once decoded",
		    show(tmp, sizeof(tmp), s, n));
	return 0;
}

/* Splits the decoded value on commas that are not escaped; checks that
 * every backslash starts one of FHIR's escapes (\, \$ \| \\). */
static int
split_values(struct sc *c, struct term *t)
{
	const char	*v = t->t_value, *start = v;
	const char	*name = t->t_param->sp_name;
	char		 tmp[SHOW_MAX + 8];
	size_t		 n = strlen(v), i;

	t->t_nvals = 0;
	if (n == 0)
		return fail(c, "%s: empty value", name);
	for (i = 0; i <= n; i++) {
		if (i < n && v[i] == '\\') {
			if (i + 1 == n || strchr(",$|\\", v[i + 1]) == NULL)
				return fail(c, "%s: bad escape in '%s' (only"
				    " \\, \\$ \\| \\\\ are defined)", name,
				    show(tmp, sizeof(tmp), v, n));
			i++;
			continue;
		}
		if (i < n && v[i] != ',')
			continue;
		if (v + i == start)
			return fail(c, "%s: empty value in '%s'", name,
			    show(tmp, sizeof(tmp), v, n));
		if (t->t_nvals == SEARCH_MAX_VALUES)
			return fail(c, "%s: more than %d values", name,
			    SEARCH_MAX_VALUES);
		t->t_vals[t->t_nvals].v_p = start;
		t->t_vals[t->t_nvals].v_n = (size_t)(v + i - start);
		t->t_nvals++;
		start = v + i + 1;
	}
	return 0;
}

/* Resolves FHIR escapes (already checked by split_values).  Caller frees
 * the result with free(). */
static char *
unescape(const char *p, size_t n)
{
	char	*s = xmalloc(n + 1);
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n)
			i++;
		s[o++] = p[i];
	}
	s[o] = '\0';
	return s;
}

/* The first '|' in p[0..n) that is not escaped, or NULL. */
static const char *
find_bar(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '|')
			return p + i;
	}
	return NULL;
}

static int
valid_id(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

/* Splits a table path ("name[].given[]") into segments; returns their
 * number.  Paths are constants of this file. */
static int
path_segs(const char *path, const char **seg, size_t *len, int *arr)
{
	const char	*p = path;
	int		 n = 0;

	while (*p != '\0' && n < PATH_MAX_SEGS) {
		seg[n] = p;
		len[n] = strcspn(p, ".[");
		p += len[n];
		arr[n] = *p == '[';
		if (arr[n])
			p += 2;
		if (*p == '.')
			p++;
		n++;
	}
	return n;
}

/* Writes the path as a lax jsonpath: "name[].given[]" gives
 * $.name[*].given[*]. */
static void
path_jsonpath(struct sc *c, const char *path)
{
	const char	*seg[PATH_MAX_SEGS];
	size_t		 len[PATH_MAX_SEGS];
	int		 arr[PATH_MAX_SEGS], n, i;

	n = path_segs(path, seg, len, arr);
	sql(c, "$");
	for (i = 0; i < n; i++)
		sqlf(c, ".%.*s%s", (int)len[i], seg[i], arr[i] ? "[*]" : "");
}

/* The JSON around a containment leaf: "class[].value" opens
 * {"class":[{"value": and doc_close closes it. */
static void
doc_open(struct sc *c, struct buf *d, const char *path)
{
	const char	*seg[PATH_MAX_SEGS];
	size_t		 len[PATH_MAX_SEGS];
	int		 arr[PATH_MAX_SEGS], n, i;

	n = path_segs(path, seg, len, arr);
	for (i = 0; i < n; i++)
		if (buf_printf(d, "{\"%.*s\":%s", (int)len[i], seg[i],
		    arr[i] ? "[" : "") == -1)
			c->c_full = 1;
}

static void
doc_close(struct sc *c, struct buf *d, const char *path)
{
	const char	*seg[PATH_MAX_SEGS];
	size_t		 len[PATH_MAX_SEGS];
	int		 arr[PATH_MAX_SEGS], n, i;

	n = path_segs(path, seg, len, arr);
	for (i = n - 1; i >= 0; i--)
		if (buf_puts(d, arr[i] ? "]}" : "}") == -1)
			c->c_full = 1;
}

/* Appends s as a JSON string. */
static void
doc_str(struct sc *c, struct buf *d, const char *s)
{
	if (buf_putc(d, '"') == -1 || buf_json_escape(d, s, strlen(s)) == -1 ||
	    buf_putc(d, '"') == -1)
		c->c_full = 1;
}

static int
compile_missing(struct sc *c, struct term *t)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*name = t->t_param->sp_name;
	char			 tmp[SHOW_MAX + 8];
	int			 missing;

	if (t->t_nvals != 1)
		return fail(c, "%s:missing takes one value, true or false",
		    name);
	if (strcmp(t->t_value, "true") == 0)
		missing = 1;
	else if (strcmp(t->t_value, "false") == 0)
		missing = 0;
	else
		return fail(c, "%s:missing: '%s' is not true or false", name,
		    show(tmp, sizeof(tmp), t->t_value, strlen(t->t_value)));
	if (h->h_kind == HOW_ID || h->h_kind == HOW_UPDATED) {
		/* Columns that every row has. */
		sql(c, missing ? "FALSE" : "TRUE");
		return 0;
	}
	sql(c, missing ? "NOT jsonb_path_exists(content::jsonb, '" :
	    "jsonb_path_exists(content::jsonb, '");
	path_jsonpath(c, h->h_path);
	sql(c, "')");
	return 0;
}

static int
compile_id(struct sc *c, struct term *t, int not)
{
	struct buf	 a;
	char		*v, tmp[SHOW_MAX + 8];
	size_t		 i;
	int		 n, rc = -1;

	buf_init(&a, SEARCH_MAX_PARAM_LEN);
	for (i = 0; i < t->t_nvals; i++) {
		v = unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		if (!valid_id(v, strlen(v))) {
			fail(c, "_id: '%s' is not a valid id",
			    show(tmp, sizeof(tmp), v, strlen(v)));
			free(v);
			goto out;
		}
		arr_add(c, &a, v, strlen(v));
		free(v);
	}
	arr_close(c, &a);
	if ((n = param_add(c, &a)) == -1)
		goto out;
	sqlf(c, not ? "NOT (id = ANY($%d::text[]))" : "id = ANY($%d::text[])",
	    n);
	rc = 0;
 out:
	buf_free(&a);
	return rc;
}

/*
 * Token on code, boolean, Identifier and CodeableConcept elements.
 * Containment documents go into one jsonb[] parameter; values of the
 * form "|code" (no system) into a text[] for a jsonpath.
 */
static int
compile_token(struct sc *c, struct term *t, int not)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*name = t->t_param->sp_name;
	const char		*bar, *p, *vkey;
	struct buf		 docs, nosys, d;
	char			*sys = NULL, *code = NULL;
	char			 tmp[SHOW_MAX + 8];
	size_t			 i, n;
	int			 ndocs = 0, nnosys = 0, pd = 0, pn = 0;
	int			 rc = -1;

	buf_init(&docs, SEARCH_MAX_PARAM_LEN);
	buf_init(&nosys, SEARCH_MAX_PARAM_LEN);
	buf_init(&d, SEARCH_MAX_PARAM_LEN);
	vkey = h->h_kind == HOW_IDENT ? "value" : "code";
	for (i = 0; i < t->t_nvals; i++) {
		p = t->t_vals[i].v_p;
		n = t->t_vals[i].v_n;
		free(sys);
		free(code);
		sys = code = NULL;
		if ((bar = find_bar(p, n)) != NULL) {
			if (find_bar(bar + 1, n - (size_t)(bar + 1 - p)) !=
			    NULL) {
				fail(c, "%s: '%s' has more than one unescaped"
				    " '|'", name, show(tmp, sizeof(tmp), p, n));
				goto out;
			}
			sys = unescape(p, (size_t)(bar - p));
			code = unescape(bar + 1, n - (size_t)(bar + 1 - p));
			if (*sys == '\0' && *code == '\0') {
				fail(c, "%s: '|' needs a system or a code",
				    name);
				goto out;
			}
		} else
			code = unescape(p, n);

		buf_reset(&d);
		switch (h->h_kind) {
		case HOW_CODE:
		case HOW_BOOL:
			/* The system of a code is implied by its binding. */
			if (*code == '\0') {
				fail(c, "%s: a system without a code ('%s')"
				    " cannot be searched on a code element",
				    name, show(tmp, sizeof(tmp), p, n));
				goto out;
			}
			doc_open(c, &d, h->h_path);
			if (h->h_kind == HOW_CODE)
				doc_str(c, &d, code);
			else if (strcmp(code, "true") == 0 ||
			    strcmp(code, "false") == 0) {
				if (buf_puts(&d, code) == -1)
					c->c_full = 1;
			} else {
				fail(c, "%s: '%s' is not true or false", name,
				    show(tmp, sizeof(tmp), code,
				    strlen(code)));
				goto out;
			}
			doc_close(c, &d, h->h_path);
			break;
		case HOW_IDENT:
		case HOW_CONCEPT:
			if (sys != NULL && *sys == '\0') {
				arr_add(c, &nosys, code, strlen(code));
				nnosys++;
				continue;
			}
			doc_open(c, &d, h->h_path);
			if (h->h_kind == HOW_CONCEPT &&
			    buf_puts(&d, "{\"coding\":[") == -1)
				c->c_full = 1;
			if (buf_putc(&d, '{') == -1)
				c->c_full = 1;
			if (sys != NULL) {
				if (buf_puts(&d, "\"system\":") == -1)
					c->c_full = 1;
				doc_str(c, &d, sys);
			}
			if (*code != '\0') {
				if (buf_printf(&d, "%s\"%s\":",
				    sys != NULL ? "," : "", vkey) == -1)
					c->c_full = 1;
				doc_str(c, &d, code);
			}
			if (buf_puts(&d, h->h_kind == HOW_CONCEPT ? "}]}" :
			    "}") == -1)
				c->c_full = 1;
			doc_close(c, &d, h->h_path);
			break;
		default:
			abort();
		}
		arr_add(c, &docs, d.b_data != NULL ? d.b_data : "", d.b_len);
		ndocs++;
	}
	if (ndocs > 0) {
		arr_close(c, &docs);
		if ((pd = param_add(c, &docs)) == -1)
			goto out;
	}
	if (nnosys > 0) {
		arr_close(c, &nosys);
		if ((pn = param_add(c, &nosys)) == -1)
			goto out;
	}

	if (not)
		sql(c, "NOT ");
	if (not || (ndocs > 0 && nnosys > 0))
		sql(c, "(");
	if (ndocs > 0)
		sqlf(c, SQL_ARRAY_CONTAINS, pd);
	if (ndocs > 0 && nnosys > 0)
		sql(c, " OR ");
	if (nnosys > 0) {
		sql(c, "jsonb_path_exists(content::jsonb, '");
		path_jsonpath(c, h->h_path);
		if (h->h_kind == HOW_CONCEPT)
			sql(c, ".coding[*]");
		sqlf(c, " ? (@.%s == $v[*] && !exists(@.system))', "
		    "jsonb_build_object('v', $%d::text[]))", vkey, pn);
	}
	if (not || (ndocs > 0 && nnosys > 0))
		sql(c, ")");
	rc = 0;
 out:
	free(sys);
	free(code);
	buf_free(&d);
	buf_free(&docs);
	buf_free(&nosys);
	return rc;
}

static int
compile_string(struct sc *c, struct term *t)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*cond;
	struct buf		 a;
	char			*v;
	size_t			 i;
	int			 n, rc = -1;

	if (t->t_mod == NULL)
		cond = "starts_with(lower(e.j #>> '{}'), lower(q.s))";
	else if (strcmp(t->t_mod, "contains") == 0)
		cond = "strpos(lower(e.j #>> '{}'), lower(q.s)) > 0";
	else
		cond = "e.j #>> '{}' = q.s";	/* :exact */
	buf_init(&a, SEARCH_MAX_PARAM_LEN);
	for (i = 0; i < t->t_nvals; i++) {
		v = unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		arr_add(c, &a, v, strlen(v));
		free(v);
	}
	arr_close(c, &a);
	if ((n = param_add(c, &a)) == -1)
		goto out;
	sql(c, "EXISTS (SELECT 1 FROM jsonb_path_query(content::jsonb, '");
	path_jsonpath(c, h->h_path);
	sqlf(c, " ? (@.type() == \"string\")') AS e(j), unnest($%d::text[])"
	    " AS q(s) WHERE ", n);
	sql(c, cond);
	sql(c, ")");
	rc = 0;
 out:
	buf_free(&a);
	return rc;
}

/* Adds the containment document {path: {"reference": ref}} to 'docs'. */
static void
ref_doc(struct sc *c, struct buf *docs, const char *path, const char *ref)
{
	struct buf	d;

	buf_init(&d, SEARCH_MAX_PARAM_LEN);
	doc_open(c, &d, path);
	if (buf_puts(&d, "{\"reference\":") == -1)
		c->c_full = 1;
	doc_str(c, &d, ref);
	if (buf_putc(&d, '}') == -1)
		c->c_full = 1;
	doc_close(c, &d, path);
	arr_add(c, docs, d.b_data != NULL ? d.b_data : "", d.b_len);
	buf_free(&d);
}

/*
 * Reference: "Type/id" (Type one of the targets), a bare id (any target
 * type), or an absolute URL compared as it is.  'tmod' is a type
 * modifier (subject:Patient=id) or NULL.
 */
static int
compile_ref(struct sc *c, struct term *t, const char *tmod)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*name = t->t_param->sp_name;
	const char *const	*tp;
	const char		*slash;
	struct buf		 docs;
	char			*v = NULL, *ref, tmp[SHOW_MAX + 8];
	char			 tname[160];
	size_t			 i, vn, tn;
	int			 n, rc = -1;

	buf_init(&docs, SEARCH_MAX_PARAM_LEN);
	for (i = 0; i < t->t_nvals; i++) {
		free(v);
		v = unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		vn = strlen(v);
		slash = strchr(v, '/');
		if (tmod != NULL && slash != NULL) {
			fail(c, "%s:%s: '%s' must be a plain id", name, tmod,
			    show(tmp, sizeof(tmp), v, vn));
			goto out;
		}
		if (strstr(v, "://") != NULL) {
			ref_doc(c, &docs, h->h_path, v);
			continue;
		}
		if (slash == NULL) {
			if (!valid_id(v, vn)) {
				fail(c, "%s: '%s' is not a valid id", name,
				    show(tmp, sizeof(tmp), v, vn));
				goto out;
			}
			for (tp = h->h_targets; *tp != NULL; tp++) {
				if (tmod != NULL && strcmp(*tp, tmod) != 0)
					continue;
				ref = xasprintf("%s/%s", *tp, v);
				ref_doc(c, &docs, h->h_path, ref);
				free(ref);
			}
			continue;
		}
		if (!valid_id(slash + 1, strlen(slash + 1))) {
			fail(c, "%s: '%s' is not Type/id", name,
			    show(tmp, sizeof(tmp), v, vn));
			goto out;
		}
		tn = (size_t)(slash - v);
		for (tp = h->h_targets; *tp != NULL; tp++)
			if (strlen(*tp) == tn && memcmp(*tp, v, tn) == 0)
				break;
		if (*tp == NULL) {
			tname[0] = '\0';
			for (tp = h->h_targets; *tp != NULL; tp++)
				snprintf(tname + strlen(tname),
				    sizeof(tname) - strlen(tname), "%s%s",
				    tp == h->h_targets ? "" : tp[1] == NULL ?
				    " or " : ", ", *tp);
			fail(c, "%s: '%s' must refer to %s", name,
			    show(tmp, sizeof(tmp), v, vn), tname);
			goto out;
		}
		ref_doc(c, &docs, h->h_path, v);
	}
	arr_close(c, &docs);
	if ((n = param_add(c, &docs)) == -1)
		goto out;
	sqlf(c, SQL_ARRAY_CONTAINS, n);
	rc = 0;
 out:
	free(v);
	buf_free(&docs);
	return rc;
}

/* Reads exactly 'w' decimal digits at s[0..) (n bytes available). */
static int
digits(const char *s, size_t n, size_t w, unsigned *v)
{
	size_t	i;

	if (n < w)
		return -1;
	*v = 0;
	for (i = 0; i < w; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

#define US_SEC	INT64_C(1000000)
#define US_DAY	(86400 * US_SEC)

/*
 * Parses a FHIR search date (no prefix): YYYY, YYYY-MM, YYYY-MM-DD,
 * YYYY-MM-DDThh:mm[:ss[.f{1,6}]] and an optional Z or +-hh:mm after a
 * time (a space stands for '+', as an unencoded '+' arrives decoded).
 * No zone means UTC.  Sets [*lo, *hi) in microseconds since the epoch to
 * the range the value's precision denotes.  Returns 0 or -1.
 */
static int
parse_date(const char *s, size_t n, int64_t *lo, int64_t *hi)
{
	unsigned	y, mo = 1, d = 1, hh = 0, mi = 0, ss = 0, f = 0;
	unsigned	th, tm, dim, fd;
	int64_t		base, span, off = 0;
	size_t		i = 0, k;

	if (digits(s, n, 4, &y) == -1 || y == 0)
		return -1;
	i = 4;
	if (i == n) {
		*lo = civil_days_from(y, 1, 1) * US_DAY;
		*hi = civil_days_from((int64_t)y + 1, 1, 1) * US_DAY;
		return 0;
	}
	if (s[i] != '-' || digits(s + i + 1, n - i - 1, 2, &mo) == -1 ||
	    mo < 1 || mo > 12)
		return -1;
	i += 3;
	if (i == n) {
		*lo = civil_days_from(y, mo, 1) * US_DAY;
		*hi = (mo == 12 ? civil_days_from((int64_t)y + 1, 1, 1) :
		    civil_days_from(y, mo + 1, 1)) * US_DAY;
		return 0;
	}
	dim = civil_mdays(y, mo);
	if (s[i] != '-' || digits(s + i + 1, n - i - 1, 2, &d) == -1 ||
	    d < 1 || d > dim)
		return -1;
	i += 3;
	base = civil_days_from(y, mo, d) * US_DAY;
	if (i == n) {
		*lo = base;
		*hi = base + US_DAY;
		return 0;
	}
	if (s[i] != 'T' || digits(s + i + 1, n - i - 1, 2, &hh) == -1 ||
	    hh > 23 || i + 3 >= n || s[i + 3] != ':' ||
	    digits(s + i + 4, n - i - 4, 2, &mi) == -1 || mi > 59)
		return -1;
	i += 6;
	span = 60 * US_SEC;
	if (i < n && s[i] == ':') {
		if (digits(s + i + 1, n - i - 1, 2, &ss) == -1 || ss > 59)
			return -1;
		i += 3;
		span = US_SEC;
		if (i < n && s[i] == '.') {
			k = i + 1;
			while (k < n && s[k] >= '0' && s[k] <= '9')
				k++;
			fd = (unsigned)(k - i - 1);
			if (fd < 1 || fd > 6 ||
			    digits(s + i + 1, fd, fd, &f) == -1)
				return -1;
			i += 1 + fd;
			for (; fd > 0; fd--)
				span /= 10;
			f *= (unsigned)span;
		}
	}
	if (i < n) {
		if (s[i] == 'Z')
			i++;
		else if (s[i] == '+' || s[i] == '-' || s[i] == ' ') {
			if (digits(s + i + 1, n - i - 1, 2, &th) == -1 ||
			    i + 3 >= n || s[i + 3] != ':' ||
			    digits(s + i + 4, n - i - 4, 2, &tm) == -1 ||
			    tm > 59 || th > 14 || (th == 14 && tm != 0))
				return -1;
			off = ((int64_t)th * 3600 + tm * 60) * US_SEC;
			if (s[i] == '-')
				off = -off;
			i += 6;
		} else
			return -1;
	}
	if (i != n)
		return -1;
	*lo = base + ((int64_t)hh * 3600 + mi * 60 + ss) * US_SEC + f - off;
	*hi = *lo + span;
	return 0;
}

/* Formats an instant for a timestamptz parameter; outside years
 * 0001..9999 it is -infinity or infinity, which compare the same way for
 * every stored value. */
static void
fmt_instant(int64_t us, char *dst, size_t size)
{
	int64_t		days, rem, y;
	unsigned	m, d;

	if (us < civil_days_from(1, 1, 1) * US_DAY) {
		snprintf(dst, size, "-infinity");
		return;
	}
	if (us >= civil_days_from(10000, 1, 1) * US_DAY) {
		snprintf(dst, size, "infinity");
		return;
	}
	days = us / US_DAY;
	rem = us % US_DAY;
	if (rem < 0) {
		rem += US_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(dst, size, "%04d-%02u-%02uT%02d:%02d:%02d", (int)y, m, d,
	    (int)(rem / (3600 * US_SEC)), (int)(rem / (60 * US_SEC) % 60),
	    (int)(rem / US_SEC % 60));
	if (rem % US_SEC != 0)
		snprintf(dst + strlen(dst), size - strlen(dst), ".%06d",
		    (int)(rem % US_SEC));
	snprintf(dst + strlen(dst), size - strlen(dst), "Z");
}

/*
 * The shape of a stored date text x: 1 year, 2 year-month, 3 date,
 * 4 date and time without zone, 5 date and time with zone; NULL when x
 * is NULL or malformed (including year 0000 and days past the end of
 * their month).  The casts in emit_stored_* run only on these shapes,
 * which are all valid input for them, so a bad stored value does not
 * match instead of aborting the export.
 */
static void
emit_shape(struct sc *c, const char *x)
{
	sqlf(c, "CASE WHEN %s IS NULL OR %s !~ '" RE_STORED "' OR left(%s, 4)"
	    " = '0000' THEN NULL WHEN length(%s) = 4 THEN 1 WHEN length(%s) = 7"
	    " THEN 2", x, x, x, x, x);
	sqlf(c, " WHEN substr(%s, 9, 2) > CASE substr(%s, 6, 2) WHEN '02' THEN"
	    " CASE WHEN left(%s, 4)::int %% 4 = 0 AND (left(%s, 4)::int %% 100"
	    " <> 0 OR left(%s, 4)::int %% 400 = 0) THEN '29' ELSE '28' END",
	    x, x, x, x, x);
	sql(c, " WHEN '04' THEN '30' WHEN '06' THEN '30' WHEN '09' THEN '30'"
	    " WHEN '11' THEN '30' ELSE '31' END THEN NULL");
	sqlf(c, " WHEN length(%s) = 10 THEN 3 WHEN %s ~ '" RE_ZONE "' THEN 5"
	    " ELSE 4 END", x, x);
}

/*
 * The start of the range a stored date text x of shape k denotes, as
 * timestamptz; NULL when malformed.  With 'open', an absent x (a Period
 * without start) is -infinity.
 */
static void
emit_stored_start(struct sc *c, const char *x, const char *k, int open)
{
	sql(c, "CASE");
	if (open)
		sqlf(c, " WHEN %s IS NULL THEN '-infinity'::timestamptz", x);
	sqlf(c, " WHEN %s = 1 THEN (%s || '-01-01')::timestamp AT TIME ZONE"
	    " 'UTC'", k, x);
	sqlf(c, " WHEN %s = 2 THEN (%s || '-01')::timestamp AT TIME ZONE"
	    " 'UTC'", k, x);
	sqlf(c, " WHEN %s IN (3, 4) THEN %s::timestamp AT TIME ZONE 'UTC'",
	    k, x);
	sqlf(c, " WHEN %s = 5 THEN %s::timestamptz END", k, x);
}

/* The end (exclusive) of that range: the start plus the precision, and
 * one microsecond for a date and time.  With 'open', an absent x (a
 * Period without end) is infinity. */
static void
emit_stored_end(struct sc *c, const char *x, const char *k, int open)
{
	sql(c, "CASE");
	if (open)
		sqlf(c, " WHEN %s IS NULL THEN 'infinity'::timestamptz", x);
	sqlf(c, " WHEN %s = 1 THEN ((%s || '-01-01')::timestamp + interval"
	    " '1 year') AT TIME ZONE 'UTC'", k, x);
	sqlf(c, " WHEN %s = 2 THEN ((%s || '-01')::timestamp + interval"
	    " '1 month') AT TIME ZONE 'UTC'", k, x);
	sqlf(c, " WHEN %s = 3 THEN (%s::timestamp + interval '1 day') AT TIME"
	    " ZONE 'UTC'", k, x);
	sqlf(c, " WHEN %s = 4 THEN (%s::timestamp + interval '1 microsecond')"
	    " AT TIME ZONE 'UTC'", k, x);
	sqlf(c, " WHEN %s = 5 THEN %s::timestamptz + interval '1 microsecond'"
	    " END", k, x);
}

/*
 * The FROM items that give, per element value, its range as r.rs and
 * r.re.  "OFFSET 0" keeps the planner from flattening the sub-selects,
 * which would paste the shape expression (and its regular expression)
 * into every reference to it: measured 7x slower.
 */
static void
emit_range_from(struct sc *c, const struct search_how *h)
{
	int	period = h->h_kind == HOW_PERIOD;

	sql(c, "jsonb_path_query(content::jsonb, '");
	path_jsonpath(c, h->h_path);
	sql(c, period ? " ? (@.type() == \"object\")') AS e(j), LATERAL"
	    " (SELECT " : " ? (@.type() == \"string\")') AS e(j), LATERAL"
	    " (SELECT ");
	emit_stored_start(c, "k.sv", "k.ks", period);
	sql(c, " AS rs, ");
	emit_stored_end(c, period ? "k.ev" : "k.sv", period ? "k.ke" : "k.ks",
	    period);
	sql(c, " AS re FROM (SELECT s.*, ");
	emit_shape(c, "s.sv");
	sql(c, " AS ks");
	if (period) {
		sql(c, ", ");
		emit_shape(c, "s.ev");
		sql(c, " AS ke");
	}
	sql(c, period ? " FROM (SELECT e.j ->> 'start' AS sv, e.j ->> 'end'"
	    " AS ev) AS s OFFSET 0) AS k OFFSET 0) AS r" : " FROM (SELECT"
	    " e.j #>> '{}' AS sv) AS s OFFSET 0) AS k OFFSET 0) AS r");
}

/* Expands a prefix template: %S and %E become the target's start and
 * end, %a and %b the parameters $a and $b. */
static void
emit_tmpl(struct sc *c, const char *tmpl, const char *s, const char *e,
    int a, int b)
{
	const char	*p;

	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			if (buf_putc(&c->c_out->ss_where, *p) == -1)
				c->c_full = 1;
			continue;
		}
		switch (*++p) {
		case 'S':
			sql(c, s);
			break;
		case 'E':
			sql(c, e);
			break;
		case 'a':
			sqlf(c, "$%d::timestamptz", a);
			break;
		case 'b':
			sqlf(c, "$%d::timestamptz", b);
			break;
		default:
			abort();
		}
	}
}

static int
compile_date(struct sc *c, struct term *t)
{
	const struct search_how	*h = t->t_param->sp_how;
	const char		*name = t->t_param->sp_name;
	const char *const	*tmpls;
	const char		*p, *tmpl;
	struct buf		 pb;
	char			*v = NULL, tmp[SHOW_MAX + 8], ts[40];
	int64_t			 lo, hi;
	size_t			 i, k, n;
	int			 pfx, a, b, rc = -1;

	buf_init(&pb, SEARCH_MAX_PARAM_LEN);
	tmpls = h->h_kind == HOW_UPDATED ? point_tmpl : range_tmpl;
	/* Parse every value before emitting anything. */
	for (i = 0; i < t->t_nvals; i++) {
		free(v);
		v = unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		n = strlen(v);
		p = v;
		if (n >= 2 && v[0] >= 'a' && v[0] <= 'z' && v[1] >= 'a' &&
		    v[1] <= 'z') {
			if (strncmp(v, "ap", 2) == 0) {
				fail(c, "%s: prefix 'ap' (approximately) is"
				    " not supported", name);
				goto out;
			}
			for (k = 0; k < NELEM(prefixes); k++)
				if (strncmp(v, prefixes[k], 2) == 0)
					break;
			if (k == NELEM(prefixes)) {
				fail(c, "%s: unknown prefix '%.2s' in '%s'",
				    name, v, show(tmp, sizeof(tmp), v, n));
				goto out;
			}
			p += 2;
		}
		if (parse_date(p, strlen(p), &lo, &hi) == -1) {
			fail(c, "%s: '%s' is not a date", name,
			    show(tmp, sizeof(tmp), v, n));
			goto out;
		}
	}

	if (h->h_kind != HOW_UPDATED) {
		sql(c, "EXISTS (SELECT 1 FROM ");
		emit_range_from(c, h);
		sql(c, " WHERE r.rs IS NOT NULL AND r.re IS NOT NULL AND ");
	}
	if (t->t_nvals > 1)
		sql(c, "(");
	for (i = 0; i < t->t_nvals; i++) {
		free(v);
		v = unescape(t->t_vals[i].v_p, t->t_vals[i].v_n);
		pfx = PFX_EQ;
		p = v;
		for (k = 0; k < NELEM(prefixes); k++)
			if (strncmp(v, prefixes[k], 2) == 0) {
				pfx = (int)k;
				p += 2;
				break;
			}
		(void)parse_date(p, strlen(p), &lo, &hi);
		tmpl = tmpls[pfx];
		a = b = 0;
		if (strstr(tmpl, "%a") != NULL) {
			fmt_instant(lo, ts, sizeof(ts));
			if (buf_puts(&pb, ts) == -1 ||
			    (a = param_add(c, &pb)) == -1)
				goto out;
		}
		if (strstr(tmpl, "%b") != NULL) {
			fmt_instant(hi, ts, sizeof(ts));
			if (buf_puts(&pb, ts) == -1 ||
			    (b = param_add(c, &pb)) == -1)
				goto out;
		}
		if (i > 0)
			sql(c, " OR ");
		if (h->h_kind == HOW_UPDATED)
			emit_tmpl(c, tmpl, "last_updated", "last_updated", a,
			    b);
		else
			emit_tmpl(c, tmpl, "r.rs", "r.re", a, b);
	}
	if (t->t_nvals > 1)
		sql(c, ")");
	if (h->h_kind != HOW_UPDATED)
		sql(c, ")");
	rc = 0;
 out:
	free(v);
	buf_free(&pb);
	return rc;
}

static int
compile_term(struct sc *c, struct term *t)
{
	const struct search_param	*sp = t->t_param;
	const struct search_how		*h = sp->sp_how;
	const char *const		*tp;
	const char			*m = t->t_mod;
	char				 tmp[SHOW_MAX + 8];

	if (m != NULL && strcmp(m, "missing") == 0)
		return compile_missing(c, t);
	switch (h->h_kind) {
	case HOW_ID:
	case HOW_CODE:
	case HOW_BOOL:
	case HOW_IDENT:
	case HOW_CONCEPT:
		if (m != NULL && strcmp(m, "not") != 0)
			break;
		if (h->h_kind == HOW_ID)
			return compile_id(c, t, m != NULL);
		return compile_token(c, t, m != NULL);
	case HOW_STRING:
		if (m != NULL && strcmp(m, "exact") != 0 &&
		    strcmp(m, "contains") != 0)
			break;
		return compile_string(c, t);
	case HOW_REF:
		if (m == NULL)
			return compile_ref(c, t, NULL);
		for (tp = h->h_targets; *tp != NULL; tp++)
			if (strcmp(*tp, m) == 0)
				return compile_ref(c, t, *tp);
		break;
	case HOW_UPDATED:
	case HOW_DATE:
	case HOW_PERIOD:
		if (m != NULL)
			break;
		return compile_date(c, t);
	}
	return fail(c, "unsupported modifier ':%s' on %s",
	    show(tmp, sizeof(tmp), m, strlen(m)), sp->sp_name);
}

/* Compiles one raw "name=value" part into the SQL. */
static int
compile_part(struct sc *c, const char *p, size_t n)
{
	struct term	*t;
	struct buf	 name, value;
	const char	*eq;
	char		*colon, tmp[SHOW_MAX + 8];
	size_t		 i;
	int		 rc = -1;

	buf_init(&name, SEARCH_MAX_QUERY);
	buf_init(&value, SEARCH_MAX_QUERY);
	t = xcalloc(1, sizeof(*t));
	if ((eq = memchr(p, '=', n)) == NULL) {
		fail(c, "'%s' has no value", show(tmp, sizeof(tmp), p, n));
		goto out;
	}
	if (eq == p) {
		fail(c, "empty parameter name in '%s'",
		    show(tmp, sizeof(tmp), p, n));
		goto out;
	}
	if (pct_decode(c, p, (size_t)(eq - p), &name) == -1 ||
	    pct_decode(c, eq + 1, n - (size_t)(eq + 1 - p), &value) == -1)
		goto out;
	if ((colon = strchr(name.b_data, ':')) != NULL) {
		*colon = '\0';
		t->t_mod = colon + 1;
	}
	for (i = 0; i < NELEM(result_params); i++)
		if (strcmp(name.b_data, result_params[i]) == 0) {
			fail(c, "%s is not allowed in _typeFilter",
			    result_params[i]);
			goto out;
		}
	if (strcmp(name.b_data, "_has") == 0) {
		fail(c, "reverse chaining (_has) is not supported");
		goto out;
	}
	if (strchr(name.b_data, '.') != NULL ||
	    (t->t_mod != NULL && strchr(t->t_mod, '.') != NULL)) {
		if (colon != NULL)
			*colon = ':';
		fail(c, "chained parameters are not supported ('%s')",
		    show(tmp, sizeof(tmp), name.b_data, name.b_len));
		goto out;
	}
	if ((t->t_param = param_find(c->c_type, name.b_data)) == NULL) {
		fail(c, "%s: unknown search parameter '%s'",
		    c->c_type->st_name,
		    show(tmp, sizeof(tmp), name.b_data, strlen(name.b_data)));
		goto out;
	}
	/* pct_decode rejected NUL bytes: these are plain C strings. */
	t->t_value = value.b_data != NULL ? value.b_data : "";
	if (split_values(c, t) == -1)
		goto out;
	rc = compile_term(c, t);
 out:
	free(t);
	buf_free(&name);
	buf_free(&value);
	return rc;
}

int
search_compile(const char *type, const char *query, int first_param,
    struct search_sql *out, char *errbuf, size_t errlen)
{
	struct sc	 c;
	const char	*p, *e;
	size_t		 qlen, nterms = 0;
	int		 rc = -1;

	search_sql_free(out);
	memset(&c, 0, sizeof(c));
	c.c_out = out;
	c.c_first = first_param;
	c.c_err = errbuf;
	c.c_errlen = errlen;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if ((c.c_type = type_find(type)) == NULL) {
		char	tmp[SHOW_MAX + 8];

		fail(&c, "_typeFilter is not supported on resource type '%s'",
		    type == NULL ? "" : show(tmp, sizeof(tmp), type,
		    strlen(type)));
		goto out;
	}
	if (first_param < 1 || first_param > SEARCH_MAX_FIRST) {
		fail(&c, "parameter number %d out of range", first_param);
		goto out;
	}
	if (query == NULL)
		query = "";
	qlen = strnlen(query, SEARCH_MAX_QUERY + 1);
	if (qlen > SEARCH_MAX_QUERY) {
		fail(&c, "query longer than %d bytes", SEARCH_MAX_QUERY);
		goto out;
	}
	out->ss_params = xcalloc(SEARCH_MAX_PARAMS, sizeof(char *));

	for (p = query; p < query + qlen; p = e + 1) {
		if ((e = memchr(p, '&', (size_t)(query + qlen - p))) == NULL)
			e = query + qlen;
		if (e > p)
			nterms++;
	}
	if (nterms > SEARCH_MAX_TERMS) {
		fail(&c, "more than %d parameters in one query",
		    SEARCH_MAX_TERMS);
		goto out;
	}
	if (nterms == 0)
		sql(&c, "TRUE");
	else if (nterms > 1)
		sql(&c, "(");
	nterms = 0;
	for (p = query; p < query + qlen; p = e + 1) {
		if ((e = memchr(p, '&', (size_t)(query + qlen - p))) == NULL)
			e = query + qlen;
		if (e == p)
			continue;
		if (nterms++ > 0)
			sql(&c, " AND ");
		if (compile_part(&c, p, (size_t)(e - p)) == -1)
			goto out;
	}
	if (nterms > 1)
		sql(&c, ")");
	if (c.c_full) {
		fail(&c, "query too complex: its SQL would exceed the limits");
		goto out;
	}
	rc = 0;
 out:
	if (rc == -1)
		search_sql_free(out);
	return rc;
}
