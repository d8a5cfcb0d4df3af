/*
 * ndjson.c — field extraction from one resource line, on top of jscan.
 *
 * The compartment table is the part of the FHIR R4 Patient
 * CompartmentDefinition that covers the types openIMIS produces: the one
 * reference that ties a resource to its patient.  Group (many members) is
 * resolved at export time from Group.member, not stored here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/civil.h"
#include "lib/jscan.h"
#include "store/copybin.h"
#include "store/ndjson.h"

static const struct {
	const char	*type;
	const char	*param;
} ndjson_compartment[] = {
	{ "Account", "subject" },
	{ "AllergyIntolerance", "patient" },
	{ "CarePlan", "subject" },
	{ "Claim", "patient" },
	{ "ClaimResponse", "patient" },
	{ "Condition", "subject" },
	{ "Coverage", "beneficiary" },
	{ "CoverageEligibilityRequest", "patient" },
	{ "CoverageEligibilityResponse", "patient" },
	{ "DiagnosticReport", "subject" },
	{ "Encounter", "subject" },
	{ "ExplanationOfBenefit", "patient" },
	{ "Immunization", "patient" },
	{ "MedicationRequest", "subject" },
	{ "Observation", "subject" },
	{ "Procedure", "subject" },
};

/* Members that may carry the compartment reference, by name. */
static const char *ndjson_ref_names[] = { "patient", "beneficiary", "subject" };
#define NDJSON_NREFS 3

struct ndjson_scan {
	struct ndjson_resource	*r;
	const char		*meta;		/* raw value of "meta" */
	size_t			 meta_len;
	const char		*ref[NDJSON_NREFS]; /* raw values, by name */
	size_t			 ref_len[NDJSON_NREFS];
	int			 dup;		/* a key seen twice */
	jscan_member_fn		 member;	/* the caller's, or NULL */
	void			*member_arg;
};

const char *
ndjson_compartment_param(const char *type, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(ndjson_compartment) /
	    sizeof(ndjson_compartment[0]); i++)
		if (strlen(ndjson_compartment[i].type) == len &&
		    memcmp(ndjson_compartment[i].type, type, len) == 0)
			return ndjson_compartment[i].param;
	return NULL;
}

int
ndjson_valid_id(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > NDJSON_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return 0;
	}
	return 1;
}

static int
ndjson_digits(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Two digits at s as a number (callers checked they are digits). */
static int
ndjson_2d(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

int
ndjson_valid_instant(const char *s, size_t n)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	size_t	i = 19;
	int	year, month, day, oh, om;

	/* YYYY-MM-DDThh:mm:ss */
	if (n < 20 || !ndjson_digits(s, 4) || s[4] != '-' ||
	    !ndjson_digits(s + 5, 2) || s[7] != '-' ||
	    !ndjson_digits(s + 8, 2) || s[10] != 'T' ||
	    !ndjson_digits(s + 11, 2) || s[13] != ':' ||
	    !ndjson_digits(s + 14, 2) || s[16] != ':' ||
	    !ndjson_digits(s + 17, 2))
		return 0;
	year = ndjson_2d(s) * 100 + ndjson_2d(s + 2);
	month = ndjson_2d(s + 5);
	day = ndjson_2d(s + 8);
	if (year < 1 || month < 1 || month > 12 || day < 1 ||
	    day > mdays[month - 1] || (month == 2 && day == 29 &&
	    !civil_is_leap(year)) ||
	    ndjson_2d(s + 11) > 23 || ndjson_2d(s + 14) > 59 ||
	    ndjson_2d(s + 17) > 60)
		return 0;
	if (s[i] == '.') {
		size_t start = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 9)
			return 0;
	}
	if (i < n && s[i] == 'Z')
		return i + 1 == n;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		if (n - i != 6 || !ndjson_digits(s + i + 1, 2) ||
		    s[i + 3] != ':' || !ndjson_digits(s + i + 4, 2))
			return 0;
		/* UTC offsets run from -14:00 to +14:00. */
		oh = ndjson_2d(s + i + 1);
		om = ndjson_2d(s + i + 4);
		return om < 60 && (oh < 14 || (oh == 14 && om == 0));
	}
	return 0;
}

int64_t
ndjson_instant_usec(const char *s, size_t n)
{
	char	 frac[16];
	double	 f = 0;
	int64_t	 days, secs, usec = 0;
	size_t	 i = 19, k;
	int	 off = 0;

	days = civil_days_from(ndjson_2d(s) * 100 + ndjson_2d(s + 2),
	    (unsigned)ndjson_2d(s + 5), (unsigned)ndjson_2d(s + 8));
	/* :60 rolls into the next minute, as PostgreSQL's input does. */
	secs = days * 86400 + ndjson_2d(s + 11) * 3600 +
	    ndjson_2d(s + 14) * 60 + ndjson_2d(s + 17);
	if (s[i] == '.') {
		/* PostgreSQL rounds the fraction as rint(strtod(".f") * 1e6);
		 * doing the same double arithmetic gives the same instant
		 * for fractions longer than microseconds. */
		for (k = 0; i < n && k < sizeof(frac) - 1 && (s[i] == '.' ||
		    (s[i] >= '0' && s[i] <= '9')); i++, k++)
			frac[k] = s[i];
		frac[k] = '\0';
		f = strtod(frac, NULL);
		usec = (int64_t)rint(f * 1000000);
	}
	if (s[i] == '+' || s[i] == '-') {
		off = ndjson_2d(s + i + 1) * 3600 + ndjson_2d(s + i + 4) * 60;
		if (s[i] == '-')
			off = -off;
	}
	return (secs - off) * 1000000 + usec - COPYBIN_PG_EPOCH_USEC;
}

static int
ndjson_key(const char *key, size_t keylen, const char *want)
{
	return strlen(want) == keylen && memcmp(key, want, keylen) == 0;
}

static int
ndjson_member(void *arg, const char *key, size_t keylen, const char *value,
    size_t valuelen)
{
	struct ndjson_scan	*s = arg;
	struct ndjson_resource	*r = s->r;
	int			 i;

	if (s->member != NULL && s->member(s->member_arg, key, keylen, value,
	    valuelen) == -1)
		return -1;
	if (ndjson_key(key, keylen, "resourceType")) {
		if (r->nr_type != NULL)
			s->dup = 1;
		if (jscan_plain_string(value, valuelen, &r->nr_type,
		    &r->nr_type_len) == -1) {
			r->nr_type = value;
			r->nr_type_len = 0;
		}
	} else if (ndjson_key(key, keylen, "id")) {
		if (r->nr_id != NULL)
			s->dup = 1;
		if (jscan_plain_string(value, valuelen, &r->nr_id,
		    &r->nr_id_len) == -1) {
			r->nr_id = value;
			r->nr_id_len = 0;
		}
	} else if (ndjson_key(key, keylen, "meta")) {
		s->meta = value;
		s->meta_len = valuelen;
	} else {
		/* The type may come after these: decide once all is read. */
		for (i = 0; i < NDJSON_NREFS; i++)
			if (ndjson_key(key, keylen, ndjson_ref_names[i])) {
				s->ref[i] = value;
				s->ref_len[i] = valuelen;
			}
	}
	return 0;
}

static void
ndjson_fail(char *errbuf, size_t errlen, size_t *off, size_t at,
    const char *reason)
{
	snprintf(errbuf, errlen, "%s", reason);
	if (off != NULL)
		*off = at;
}

int
ndjson_parse(const char *line, size_t len, struct ndjson_resource *r,
    char *errbuf, size_t errlen, size_t *err_offset)
{
	return ndjson_parse_with(line, len, r, NULL, NULL, errbuf, errlen,
	    err_offset);
}

int
ndjson_parse_with(const char *line, size_t len, struct ndjson_resource *r,
    jscan_member_fn member, void *arg, char *errbuf, size_t errlen,
    size_t *err_offset)
{
	struct ndjson_scan	 s;
	struct jscan_error	 je;
	const char		*v, *ref, *cparam;
	size_t			 vn, refn;
	int			 i;

	memset(r, 0, sizeof(*r));
	memset(&s, 0, sizeof(s));
	s.r = r;
	s.member = member;
	s.member_arg = arg;
	if (jscan_object(line, len, ndjson_member, &s, &je) == -1) {
		if (errbuf != NULL)
			snprintf(errbuf, errlen, "invalid JSON: %s at byte %zu",
			    je.je_reason, je.je_offset);
		if (err_offset != NULL)
			*err_offset = je.je_offset;
		return -1;
	}
	if (s.dup) {
		ndjson_fail(errbuf, errlen, err_offset, 0,
		    "duplicate resourceType or id member");
		return -1;
	}
	if (r->nr_type == NULL) {
		ndjson_fail(errbuf, errlen, err_offset, 0,
		    "missing resourceType");
		return -1;
	}
	if (r->nr_type_len == 0 || r->nr_type_len > 64 ||
	    r->nr_type[0] < 'A' || r->nr_type[0] > 'Z') {
		ndjson_fail(errbuf, errlen, err_offset, 0,
		    "resourceType is not a resource type name");
		return -1;
	}
	for (vn = 0; vn < r->nr_type_len; vn++) {
		char c = r->nr_type[vn];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
			ndjson_fail(errbuf, errlen, err_offset, 0,
			    "resourceType is not a resource type name");
			return -1;
		}
	}
	if (r->nr_id == NULL) {
		ndjson_fail(errbuf, errlen, err_offset, 0, "missing id");
		return -1;
	}
	if (!ndjson_valid_id(r->nr_id, r->nr_id_len)) {
		ndjson_fail(errbuf, errlen, err_offset, 0,
		    "id does not match the FHIR id syntax [A-Za-z0-9-.]{1,64}");
		return -1;
	}
	if (s.meta != NULL && jscan_get(s.meta, s.meta_len, "lastUpdated", &v,
	    &vn) == 0) {
		if (jscan_plain_string(v, vn, &r->nr_updated,
		    &r->nr_updated_len) == -1 ||
		    !ndjson_valid_instant(r->nr_updated, r->nr_updated_len)) {
			ndjson_fail(errbuf, errlen, err_offset, 0,
			    "meta.lastUpdated is not a FHIR instant");
			return -1;
		}
	}

	/* The compartment: Patient is its own; others by reference. */
	if (r->nr_type_len == 7 && memcmp(r->nr_type, "Patient", 7) == 0) {
		r->nr_patient = r->nr_id;
		r->nr_patient_len = r->nr_id_len;
		return 0;
	}
	if ((cparam = ndjson_compartment_param(r->nr_type,
	    r->nr_type_len)) == NULL)
		return 0;
	for (i = 0; i < NDJSON_NREFS; i++)
		if (strcmp(cparam, ndjson_ref_names[i]) == 0)
			break;
	if (i == NDJSON_NREFS || s.ref[i] == NULL || s.ref[i][0] != '{')
		return 0;
	if (jscan_get(s.ref[i], s.ref_len[i], "reference", &v, &vn) == -1 ||
	    jscan_plain_string(v, vn, &ref, &refn) == -1)
		return 0;
	if (refn > 8 && memcmp(ref, "Patient/", 8) == 0 &&
	    ndjson_valid_id(ref + 8, refn - 8)) {
		r->nr_patient = ref + 8;
		r->nr_patient_len = refn - 8;
	}
	return 0;
}
