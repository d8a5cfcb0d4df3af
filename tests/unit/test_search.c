/*
 * test_search.c — bulk/search.c: the exact SQL and parameters compiled
 * from representative queries, and the reason given for bad ones.
 * test_search_pg.c runs the SQL against PostgreSQL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "bulk/search.h"
#include "lib/buf.h"

/* Compiles and compares the SQL (exactly, or by prefix and suffix when
 * 'suffix' is not NULL) and the NULL-terminated list of parameters. */
static int
vcompiles(const char *type, const char *q, int first, const char *sql,
    const char *suffix, va_list ap)
{
	struct search_sql	 ss;
	const char		*want, *got;
	char			 err[256];
	int			 i = 0, ok = 1;

	search_sql_init(&ss);
	if (search_compile(type, q, first, &ss, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s?%s: unexpected error: %s\n", type, q, err);
		return 0;
	}
	got = ss.ss_where.b_data;
	if (suffix == NULL ? strcmp(got, sql) != 0 :
	    strncmp(got, sql, strlen(sql)) != 0 || strlen(got) <
	    strlen(suffix) ||
	    strcmp(got + strlen(got) - strlen(suffix), suffix) != 0) {
		fprintf(stderr, "%s?%s:\n  got  %s\n  want %s%s%s\n", type, q,
		    got, sql, suffix != NULL ? " ... " : "",
		    suffix != NULL ? suffix : "");
		ok = 0;
	}
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (i >= ss.ss_nparams || strcmp(ss.ss_params[i], want) != 0) {
			fprintf(stderr, "%s?%s: $%d is %s, want %s\n", type, q,
			    first + i, i < ss.ss_nparams ? ss.ss_params[i] :
			    "(none)", want);
			ok = 0;
		}
		i++;
	}
	if (i != ss.ss_nparams) {
		fprintf(stderr, "%s?%s: %d parameters, want %d\n", type, q,
		    ss.ss_nparams, i);
		ok = 0;
	}
	search_sql_free(&ss);
	return ok;
}

static int
compiles(const char *type, const char *q, int first, const char *sql, ...)
{
	va_list	ap;
	int	ok;

	va_start(ap, sql);
	ok = vcompiles(type, q, first, sql, NULL, ap);
	va_end(ap);
	return ok;
}

static int
compiles_affix(const char *type, const char *q, const char *prefix,
    const char *suffix, ...)
{
	va_list	ap;
	int	ok;

	va_start(ap, suffix);
	ok = vcompiles(type, q, 1, prefix, suffix, ap);
	va_end(ap);
	return ok;
}

/* Fails with exactly 'want' as the reason, leaving 'out' empty. */
static int
fails(const char *type, const char *q, const char *want)
{
	struct search_sql	ss;
	char			err[256];
	int			ok;

	search_sql_init(&ss);
	ok = search_compile(type, q, 1, &ss, err, sizeof(err)) == -1 &&
	    strcmp(err, want) == 0 && ss.ss_nparams == 0 &&
	    ss.ss_params == NULL && ss.ss_where.b_len == 0;
	if (!ok)
		fprintf(stderr, "%s?%s:\n  got  %s\n  want %s\n", type, q,
		    err, want);
	search_sql_free(&ss);
	return ok;
}

#define CONTAINS	"(content::jsonb) @> ANY($1::jsonb[])"
/* One reference containment document as a one-element jsonb[]. */
#define REF1(m, r)	"{\"{\\\"" m "\\\":{\\\"reference\\\":\\\"" r \
	"\\\"}}\"}"

static void
test_tokens(void)
{
	CHECK(compiles("Patient", "gender=female", 1, CONTAINS,
	    "{\"{\\\"gender\\\":\\\"female\\\"}\"}", NULL));
	CHECK(compiles("Patient", "gender=female,male", 5,
	    "(content::jsonb) @> ANY($5::jsonb[])",
	    "{\"{\\\"gender\\\":\\\"female\\\"}\","
	    "\"{\\\"gender\\\":\\\"male\\\"}\"}", NULL));
	/* The system of a code is implied: compared on the code only. */
	CHECK(compiles("Patient", "gender=http://hl7.org/fhir/"
	    "administrative-gender|male", 1, CONTAINS,
	    "{\"{\\\"gender\\\":\\\"male\\\"}\"}", NULL));
	CHECK(compiles("Patient", "gender:not=male", 1,
	    "NOT (" CONTAINS ")", "{\"{\\\"gender\\\":\\\"male\\\"}\"}",
	    NULL));
	CHECK(compiles("Patient", "gender:missing=true", 1,
	    "NOT jsonb_path_exists(content::jsonb, '$.gender')", NULL));
	CHECK(compiles("Patient", "gender:missing=false", 1,
	    "jsonb_path_exists(content::jsonb, '$.gender')", NULL));
	CHECK(compiles("Patient", "active=true", 1, CONTAINS,
	    "{\"{\\\"active\\\":true}\"}", NULL));
	CHECK(compiles("Group", "type=person", 1, CONTAINS,
	    "{\"{\\\"type\\\":\\\"person\\\"}\"}", NULL));
	CHECK(compiles("Coverage", "class-value=T0001", 1, CONTAINS,
	    "{\"{\\\"class\\\":[{\\\"value\\\":\\\"T0001\\\"}]}\"}", NULL));
	CHECK(compiles("Coverage", "class-value:missing=true", 1,
	    "NOT jsonb_path_exists(content::jsonb, '$.class[*].value')",
	    NULL));

	/* Identifier: every form; "|value" needs the jsonpath. */
	CHECK(compiles("Patient", "identifier=sys|v,|w,x,s%7C", 1,
	    "(" CONTAINS " OR jsonb_path_exists(content::jsonb,"
	    " '$.identifier[*] ? (@.value == $v[*] && !exists(@.system))',"
	    " jsonb_build_object('v', $2::text[])))",
	    "{\"{\\\"identifier\\\":[{\\\"system\\\":\\\"sys\\\","
	    "\\\"value\\\":\\\"v\\\"}]}\","
	    "\"{\\\"identifier\\\":[{\\\"value\\\":\\\"x\\\"}]}\","
	    "\"{\\\"identifier\\\":[{\\\"system\\\":\\\"s\\\"}]}\"}",
	    "{\"w\"}", NULL));
	CHECK(compiles("Patient", "identifier=|w", 3,
	    "jsonb_path_exists(content::jsonb, '$.identifier[*] ? (@.value =="
	    " $v[*] && !exists(@.system))', jsonb_build_object('v',"
	    " $3::text[]))", "{\"w\"}", NULL));
	CHECK(compiles("Patient", "identifier:not=|w", 1,
	    "NOT (jsonb_path_exists(content::jsonb, '$.identifier[*] ?"
	    " (@.value == $v[*] && !exists(@.system))', jsonb_build_object("
	    "'v', $1::text[])))", "{\"w\"}", NULL));
	/* Escapes: \| is part of the value, \\ a backslash; JSON and array
	 * quoting nest. */
	CHECK(compiles("Patient", "identifier=a\\|b%22\\\\", 1, CONTAINS,
	    "{\"{\\\"identifier\\\":[{\\\"value\\\":\\\"a|b\\\\\\\"\\\\\\\\"
	    "\\\"}]}\"}", NULL));

	/* CodeableConcept. */
	CHECK(compiles("Medication", "code=s|c,|d", 1,
	    "(" CONTAINS " OR jsonb_path_exists(content::jsonb,"
	    " '$.code.coding[*] ? (@.code == $v[*] && !exists(@.system))',"
	    " jsonb_build_object('v', $2::text[])))",
	    "{\"{\\\"code\\\":{\\\"coding\\\":[{\\\"system\\\":\\\"s\\\","
	    "\\\"code\\\":\\\"c\\\"}]}}\"}", "{\"d\"}", NULL));
	CHECK(compiles("Location", "type=R", 1, CONTAINS,
	    "{\"{\\\"type\\\":[{\\\"coding\\\":[{\\\"code\\\":"
	    "\\\"R\\\"}]}]}\"}",
	    NULL));

	/* _id. */
	CHECK(compiles("Claim", "_id=a,b.c-1", 1, "id = ANY($1::text[])",
	    "{\"a\",\"b.c-1\"}", NULL));
	CHECK(compiles("Claim", "_id:not=a", 1, "NOT (id = ANY($1::text[]))",
	    "{\"a\"}", NULL));
	CHECK(compiles("Claim", "_id:missing=true", 1, "FALSE", NULL));
	CHECK(compiles("Claim", "_id:missing=false", 1, "TRUE", NULL));
}

static void
test_strings(void)
{
	const char *from = "EXISTS (SELECT 1 FROM jsonb_path_query("
	    "content::jsonb, '$.name[*].family ? (@.type() == \"string\")')"
	    " AS e(j), unnest($1::text[]) AS q(s) WHERE ";
	char	sql[512];

	snprintf(sql, sizeof(sql), "%sstarts_with(lower(e.j #>> '{}'),"
	    " lower(q.s)))", from);
	CHECK(compiles("Patient", "family=Sm%C3%ADth", 1, sql,
	    "{\"Sm\xc3\xadth\"}", NULL));
	/* %2C is a comma once decoded, so it separates values; \, does
	 * not; + is a space. */
	CHECK(compiles("Patient", "family=a%2Cb", 1, sql, "{\"a\",\"b\"}",
	    NULL));
	CHECK(compiles("Patient", "family=a\\,b", 1, sql, "{\"a,b\"}", NULL));
	CHECK(compiles("Patient", "family=a%5C%2Cb", 1, sql, "{\"a,b\"}",
	    NULL));
	CHECK(compiles("Patient", "family=van+der", 1, sql, "{\"van der\"}",
	    NULL));
	CHECK(compiles("Patient", "family=O'Brien%22\\\\", 1, sql,
	    "{\"O'Brien\\\"\\\\\"}", NULL));
	snprintf(sql, sizeof(sql), "%se.j #>> '{}' = q.s)", from);
	CHECK(compiles("Patient", "family:exact=Smith", 1, sql,
	    "{\"Smith\"}", NULL));
	snprintf(sql, sizeof(sql), "%sstrpos(lower(e.j #>> '{}'),"
	    " lower(q.s)) > 0)", from);
	CHECK(compiles("Patient", "family:contains=mit", 1, sql,
	    "{\"mit\"}", NULL));
	CHECK(compiles("Patient", "given:missing=true", 1,
	    "NOT jsonb_path_exists(content::jsonb, '$.name[*].given[*]')",
	    NULL));
	CHECK(compiles("Location", "name=Kin", 1, "EXISTS (SELECT 1 FROM"
	    " jsonb_path_query(content::jsonb, '$.name ? (@.type() =="
	    " \"string\")') AS e(j), unnest($1::text[]) AS q(s) WHERE"
	    " starts_with(lower(e.j #>> '{}'), lower(q.s)))", "{\"Kin\"}",
	    NULL));
}

static void
test_references(void)
{
	CHECK(compiles("Coverage", "beneficiary=p1", 1, CONTAINS,
	    REF1("beneficiary", "Patient/p1"), NULL));
	CHECK(compiles("Coverage", "beneficiary=Patient/p1", 1, CONTAINS,
	    REF1("beneficiary", "Patient/p1"), NULL));
	CHECK(compiles("Claim", "provider=x", 1, CONTAINS,
	    "{\"{\\\"provider\\\":{\\\"reference\\\":"
	    "\\\"Organization/x\\\"}}\","
	    "\"{\\\"provider\\\":{\\\"reference\\\":"
	    "\\\"Practitioner/x\\\"}}\","
	    "\"{\\\"provider\\\":{\\\"reference\\\":"
	    "\\\"PractitionerRole/x\\\"}}\"}", NULL));
	CHECK(compiles("Claim", "provider:Organization=x", 1, CONTAINS,
	    REF1("provider", "Organization/x"), NULL));
	CHECK(compiles("ClaimResponse", "request=http://h/fhir/Claim/c", 1,
	    CONTAINS, "{\"{\\\"request\\\":{\\\"reference\\\":"
	    "\\\"http://h/fhir/Claim/c\\\"}}\"}", NULL));
	CHECK(compiles("Group", "member=Patient/a", 1, CONTAINS,
	    "{\"{\\\"member\\\":[{\\\"entity\\\":{\\\"reference\\\":"
	    "\\\"Patient/a\\\"}}]}\"}", NULL));
	CHECK(compiles("Claim", "patient:missing=true", 1,
	    "NOT jsonb_path_exists(content::jsonb, '$.patient')", NULL));
}

#define RANGE_TAIL(c) " WHERE r.rs IS NOT NULL AND r.re IS NOT NULL AND " c ")"

static void
test_dates(void)
{
	/* _lastUpdated is the column, compared as an instant. */
	CHECK(compiles("Patient", "_lastUpdated=gt2026-01-01T00:00:00Z", 1,
	    "last_updated >= $1::timestamptz", "2026-01-01T00:00:01Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=2026-03", 1,
	    "(last_updated >= $1::timestamptz AND last_updated <"
	    " $2::timestamptz)", "2026-03-01T00:00:00Z",
	    "2026-04-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=ne2026", 1,
	    "(last_updated < $1::timestamptz OR last_updated >="
	    " $2::timestamptz)", "2026-01-01T00:00:00Z",
	    "2027-01-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=lt2026", 1,
	    "last_updated < $1::timestamptz", "2026-01-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=ge2026", 1,
	    "last_updated >= $1::timestamptz", "2026-01-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=le2026", 1,
	    "last_updated < $1::timestamptz", "2027-01-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=sa2026", 1,
	    "last_updated >= $1::timestamptz", "2027-01-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=eb2026", 1,
	    "last_updated < $1::timestamptz", "2026-01-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=gt2026,lt2020", 1,
	    "(last_updated >= $1::timestamptz OR last_updated <"
	    " $2::timestamptz)", "2027-01-01T00:00:00Z",
	    "2020-01-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated:missing=true", 1, "FALSE",
	    NULL));

	/* The range of each precision, and zones. */
#define LU_EQ "(last_updated >= $1::timestamptz AND last_updated < " \
	"$2::timestamptz)"
	CHECK(compiles("Patient", "_lastUpdated=2024-02", 1, LU_EQ,
	    "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=2024-12", 1, LU_EQ,
	    "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=2024-02-29", 1, LU_EQ,
	    "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=2026-03-04T10:00", 1, LU_EQ,
	    "2026-03-04T10:00:00Z", "2026-03-04T10:01:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=2026-12-31T23:59:59Z", 1,
	    LU_EQ, "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=2026-03-04T10:00:00.5Z", 1,
	    LU_EQ, "2026-03-04T10:00:00.500000Z", "2026-03-04T10:00:00.600000Z",
	    NULL));
	CHECK(compiles("Patient", "_lastUpdated=2026-03-04T10:00:00.123456Z",
	    1, LU_EQ, "2026-03-04T10:00:00.123456Z",
	    "2026-03-04T10:00:00.123457Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=2026-03-04T01:00:00%2B02:00",
	    1, LU_EQ, "2026-03-03T23:00:00Z", "2026-03-03T23:00:01Z", NULL));
	/* An unencoded '+' arrives as a space: still the zone's sign. */
	CHECK(compiles("Patient", "_lastUpdated=2026-03-04T01:00:00+02:00",
	    1, LU_EQ, "2026-03-03T23:00:00Z", "2026-03-03T23:00:01Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=2026-12-31T20:00-05:30", 1,
	    LU_EQ, "2027-01-01T01:30:00Z", "2027-01-01T01:31:00Z", NULL));
	CHECK(compiles("Patient", "_lastUpdated=9999", 1, LU_EQ,
	    "9999-01-01T00:00:00Z", "infinity", NULL));
	CHECK(compiles("Patient", "_lastUpdated=0001-01-01T00:00%2B05:00", 1,
	    LU_EQ, "-infinity", "-infinity", NULL));

	/* Elements: a range per stored value, a condition per prefix. */
	CHECK(compiles_affix("Patient", "birthdate=ge1990-01-01",
	    "EXISTS (SELECT 1 FROM jsonb_path_query(content::jsonb,"
	    " '$.birthDate ? (@.type() == \"string\")') AS e(j), LATERAL"
	    " (SELECT CASE WHEN k.ks = 1 THEN",
	    " FROM (SELECT e.j #>> '{}' AS sv) AS s OFFSET 0) AS k OFFSET 0)"
	    " AS r" RANGE_TAIL("(r.re > $2::timestamptz OR r.rs >="
	    " $1::timestamptz)"), "1990-01-01T00:00:00Z",
	    "1990-01-02T00:00:00Z", NULL));
	CHECK(compiles_affix("Patient", "birthdate=1990", "EXISTS (",
	    RANGE_TAIL("(r.rs >= $1::timestamptz AND r.re <= $2::timestamptz)"),
	    "1990-01-01T00:00:00Z", "1991-01-01T00:00:00Z", NULL));
	CHECK(compiles_affix("Patient", "birthdate=ne1990", "EXISTS (",
	    RANGE_TAIL("NOT (r.rs >= $1::timestamptz AND r.re <="
	    " $2::timestamptz)"), "1990-01-01T00:00:00Z",
	    "1991-01-01T00:00:00Z", NULL));
	CHECK(compiles_affix("Patient", "birthdate=gt1990", "EXISTS (",
	    RANGE_TAIL("r.re > $1::timestamptz"), "1991-01-01T00:00:00Z",
	    NULL));
	CHECK(compiles_affix("Patient", "birthdate=lt1990", "EXISTS (",
	    RANGE_TAIL("r.rs < $1::timestamptz"), "1990-01-01T00:00:00Z",
	    NULL));
	CHECK(compiles_affix("Patient", "birthdate=le1990", "EXISTS (",
	    RANGE_TAIL("(r.rs < $1::timestamptz OR r.re <= $2::timestamptz)"),
	    "1990-01-01T00:00:00Z", "1991-01-01T00:00:00Z", NULL));
	CHECK(compiles_affix("Patient", "birthdate=sa1990", "EXISTS (",
	    RANGE_TAIL("r.rs >= $1::timestamptz"), "1991-01-01T00:00:00Z",
	    NULL));
	CHECK(compiles_affix("Patient", "birthdate=eb1990", "EXISTS (",
	    RANGE_TAIL("r.re <= $1::timestamptz"), "1990-01-01T00:00:00Z",
	    NULL));
	CHECK(compiles_affix("Claim", "created=ge2026-01-01,lt2020", "EXISTS"
	    " (SELECT 1 FROM jsonb_path_query(content::jsonb, '$.created ?",
	    RANGE_TAIL("((r.re > $2::timestamptz OR r.rs >= $1::timestamptz)"
	    " OR r.rs < $3::timestamptz)"), "2026-01-01T00:00:00Z",
	    "2026-01-02T00:00:00Z", "2020-01-01T00:00:00Z", NULL));
	/* A Period: open ends, both shapes. */
	CHECK(compiles_affix("Coverage", "period=2022",
	    "EXISTS (SELECT 1 FROM jsonb_path_query(content::jsonb,"
	    " '$.period ? (@.type() == \"object\")') AS e(j), LATERAL (SELECT"
	    " CASE WHEN k.sv IS NULL THEN '-infinity'::timestamptz WHEN",
	    " AS ke FROM (SELECT e.j ->> 'start' AS sv, e.j ->> 'end' AS ev)"
	    " AS s OFFSET 0) AS k OFFSET 0) AS r" RANGE_TAIL("(r.rs >="
	    " $1::timestamptz AND r.re <= $2::timestamptz)"),
	    "2022-01-01T00:00:00Z", "2023-01-01T00:00:00Z", NULL));
	CHECK(compiles("Coverage", "period:missing=true", 1,
	    "NOT jsonb_path_exists(content::jsonb, '$.period')", NULL));
}

static void
test_structure(void)
{
	struct search_sql	ss;
	struct buf		q;
	char			err[256];
	int			i;

	CHECK(compiles("Patient", "", 1, "TRUE", NULL));
	CHECK(compiles("Patient", NULL, 1, "TRUE", NULL));
	CHECK(compiles("Patient", "&&", 1, "TRUE", NULL));
	CHECK(compiles("Patient", "&gender=male&", 1, CONTAINS,
	    "{\"{\\\"gender\\\":\\\"male\\\"}\"}", NULL));
	/* Parts AND, each part's parameters in order. */
	CHECK(compiles("Patient", "gender=male&_id=a&gender:missing=false", 7,
	    "((content::jsonb) @> ANY($7::jsonb[]) AND id = ANY($8::text[])"
	    " AND jsonb_path_exists(content::jsonb, '$.gender'))",
	    "{\"{\\\"gender\\\":\\\"male\\\"}\"}", "{\"a\"}", NULL));
	/* Repeated parameters AND too. */
	CHECK(compiles("Claim", "status=active&status:not=draft", 1,
	    "((content::jsonb) @> ANY($1::jsonb[]) AND NOT ((content::jsonb)"
	    " @> ANY($2::jsonb[])))", "{\"{\\\"status\\\":\\\"active\\\"}\"}",
	    "{\"{\\\"status\\\":\\\"draft\\\"}\"}", NULL));
	/* Percent-encoded names. */
	CHECK(compiles("Patient", "g%65nder=male", 1, CONTAINS,
	    "{\"{\\\"gender\\\":\\\"male\\\"}\"}", NULL));

	/* 'out' is reset on each call: reuse it without leaks. */
	search_sql_init(&ss);
	CHECK(search_compile("Patient", "gender=male", 1, &ss, err,
	    sizeof(err)) == 0 && ss.ss_nparams == 1);
	CHECK(search_compile("Patient", "gender=male&_id=x", 1, &ss, err,
	    sizeof(err)) == 0 && ss.ss_nparams == 2);
	CHECK(search_compile("Patient", "nope=1", 1, &ss, err,
	    sizeof(err)) == -1 && ss.ss_nparams == 0);
	CHECK(search_compile("Patient", "nope=1", 1, &ss, NULL, 0) == -1);
	search_sql_free(&ss);
	search_sql_free(&ss);

	/* Limits. */
	buf_init(&q, 1 << 16);
	buf_puts(&q, "gender=a");
	for (i = 1; i < SEARCH_MAX_VALUES; i++)
		buf_puts(&q, ",a");
	search_sql_init(&ss);
	CHECK(search_compile("Patient", q.b_data, 1, &ss, err,
	    sizeof(err)) == 0);
	search_sql_free(&ss);
	buf_puts(&q, ",a");
	CHECK(fails("Patient", q.b_data, "gender: more than 256 values"));
	buf_reset(&q);
	buf_puts(&q, "_lastUpdated=ge2020");
	for (i = 1; i < SEARCH_MAX_PARAMS; i++)
		buf_puts(&q, ",ge2020");
	search_sql_init(&ss);
	CHECK(search_compile("Patient", q.b_data, 1, &ss, err,
	    sizeof(err)) == 0 && ss.ss_nparams == SEARCH_MAX_PARAMS);
	search_sql_free(&ss);
	buf_puts(&q, ",ge2020");
	CHECK(fails("Patient", q.b_data,
	    "the query needs more than 64 bound values"));
	buf_reset(&q);
	for (i = 0; i <= SEARCH_MAX_TERMS; i++)
		buf_puts(&q, "gender:missing=true&");
	CHECK(fails("Patient", q.b_data,
	    "more than 64 parameters in one query"));
	buf_reset(&q);
	buf_puts(&q, "family=");
	while (q.b_len <= SEARCH_MAX_QUERY)
		buf_putc(&q, 'a');
	CHECK(fails("Patient", q.b_data, "query longer than 8192 bytes"));
	buf_free(&q);

	search_sql_init(&ss);
	CHECK(search_compile("Patient", "gender=male", 0, &ss, err,
	    sizeof(err)) == -1 &&
	    strcmp(err, "parameter number 0 out of range") == 0);
	CHECK(search_compile("Patient", "gender=male", SEARCH_MAX_FIRST, &ss,
	    err, sizeof(err)) == 0);
	CHECK(search_compile("Patient", "gender=male", SEARCH_MAX_FIRST + 1,
	    &ss, err, sizeof(err)) == -1);
	search_sql_free(&ss);
}

static void
test_errors(void)
{
	CHECK(fails("Foo", "x=1",
	    "_typeFilter is not supported on resource type 'Foo'"));
	CHECK(fails(NULL, "x=1",
	    "_typeFilter is not supported on resource type ''"));
	CHECK(fails("Patient", "foo=1",
	    "Patient: unknown search parameter 'foo'"));
	CHECK(fails("Patient", "Gender=male",
	    "Patient: unknown search parameter 'Gender'"));
	CHECK(fails("Claim", "gender=male",
	    "Claim: unknown search parameter 'gender'"));
	CHECK(fails("Patient", "f%00o=1", "'%00' (NUL) is not allowed in"
	    " 'f%00o'"));

	/* Dates. */
	CHECK(fails("Patient", "birthdate=ge19x",
	    "birthdate: 'ge19x' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-02-29",
	    "birthdate: '2026-02-29' is not a date"));
	CHECK(fails("Patient", "birthdate=1900-02-29",
	    "birthdate: '1900-02-29' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-13",
	    "birthdate: '2026-13' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-04-31",
	    "birthdate: '2026-04-31' is not a date"));
	CHECK(fails("Patient", "birthdate=0000",
	    "birthdate: '0000' is not a date"));
	CHECK(fails("Patient", "birthdate=26",
	    "birthdate: '26' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-1-1",
	    "birthdate: '2026-1-1' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-01-01T25:00",
	    "birthdate: '2026-01-01T25:00' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-01-01T10",
	    "birthdate: '2026-01-01T10' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-01-01T10:00:60Z",
	    "birthdate: '2026-01-01T10:00:60Z' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-01-01T10:00:00.1234567Z",
	    "birthdate: '2026-01-01T10:00:00.1234567Z' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-01-01T10:00:00.Z",
	    "birthdate: '2026-01-01T10:00:00.Z' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-01-01Z",
	    "birthdate: '2026-01-01Z' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-01-01T10:00%2B15:00",
	    "birthdate: '2026-01-01T10:00+15:00' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-01-01T10:00%2B0200",
	    "birthdate: '2026-01-01T10:00+0200' is not a date"));
	CHECK(fails("Patient", "birthdate=2026-01-01T10:00:00ZZ",
	    "birthdate: '2026-01-01T10:00:00ZZ' is not a date"));
	CHECK(fails("Patient", "birthdate=xx2020",
	    "birthdate: unknown prefix 'xx' in 'xx2020'"));
	CHECK(fails("Patient", "birthdate=ap2020",
	    "birthdate: prefix 'ap' (approximately) is not supported"));
	CHECK(fails("Patient", "_lastUpdated=GT2020",
	    "_lastUpdated: 'GT2020' is not a date"));
	CHECK(fails("Patient", "birthdate=2020,2020-1",
	    "birthdate: '2020-1' is not a date"));
	CHECK(fails("Patient", "birthdate=2020,bad",
	    "birthdate: unknown prefix 'ba' in 'bad'"));

	/* Decoding. */
	CHECK(fails("Patient", "gender=%zz", "bad percent-escape '%zz'"));
	CHECK(fails("Patient", "gender=%4", "bad percent-escape '%4'"));
	CHECK(fails("Patient", "gender=a%", "bad percent-escape '%'"));
	CHECK(fails("Patient", "gender=%00",
	    "'%00' (NUL) is not allowed in '%00'"));
	CHECK(fails("Patient", "gender=%C3%28",
	    "'%C3%28' is not valid UTF-8 once decoded"));
	CHECK(fails("Patient", "gender=%ED%A0%80",
	    "'%ED%A0%80' is not valid UTF-8 once decoded"));
	CHECK(fails("Patient", "gender=\xc0\xaf",
	    "'?" "?' is not valid UTF-8 once decoded"));
	CHECK(fails("Patient", "gender=a\\q",
	    "gender: bad escape in 'a\\q' (only \\, \\$ \\| \\\\ are"
	    " defined)"));
	CHECK(fails("Patient", "gender=a\\",
	    "gender: bad escape in 'a\\' (only \\, \\$ \\| \\\\ are"
	    " defined)"));

	/* Values. */
	CHECK(fails("Patient", "gender", "'gender' has no value"));
	CHECK(fails("Patient", "=x", "empty parameter name in '=x'"));
	CHECK(fails("Patient", "gender=", "gender: empty value"));
	CHECK(fails("Patient", "gender=a,", "gender: empty value in 'a,'"));
	CHECK(fails("Patient", "gender=,a", "gender: empty value in ',a'"));
	CHECK(fails("Patient", "gender=a,,b",
	    "gender: empty value in 'a,,b'"));
	CHECK(fails("Patient", "gender=a|b|c",
	    "gender: 'a|b|c' has more than one unescaped '|'"));
	CHECK(fails("Patient", "identifier=|",
	    "identifier: '|' needs a system or a code"));
	CHECK(fails("Patient", "gender=sys|",
	    "gender: a system without a code ('sys|') cannot be searched on a"
	    " code element"));
	CHECK(fails("Patient", "active=yes",
	    "active: 'yes' is not true or false"));
	CHECK(fails("Patient", "_id=a%20b", "_id: 'a b' is not a valid id"));
	CHECK(fails("Patient", "_id=a/b", "_id: 'a/b' is not a valid id"));
	CHECK(fails("Coverage", "beneficiary=Organization/x",
	    "beneficiary: 'Organization/x' must refer to Patient"));
	CHECK(fails("Claim", "provider=Group/x", "provider: 'Group/x' must"
	    " refer to Organization, Practitioner or PractitionerRole"));
	CHECK(fails("Coverage", "beneficiary=Patient/",
	    "beneficiary: 'Patient/' is not Type/id"));
	CHECK(fails("Coverage", "beneficiary=Patient/a/_history/2",
	    "beneficiary: 'Patient/a/_history/2' is not Type/id"));
	CHECK(fails("Coverage", "beneficiary=a%20b",
	    "beneficiary: 'a b' is not a valid id"));
	CHECK(fails("Coverage", "beneficiary:Patient=Patient/x",
	    "beneficiary:Patient: 'Patient/x' must be a plain id"));

	/* Modifiers. */
	CHECK(fails("Patient", "gender:exact=male",
	    "unsupported modifier ':exact' on gender"));
	CHECK(fails("Patient", "gender:text=male",
	    "unsupported modifier ':text' on gender"));
	CHECK(fails("Patient", "gender:in=http://vs",
	    "unsupported modifier ':in' on gender"));
	CHECK(fails("Patient", "identifier:of-type=a|b|c",
	    "unsupported modifier ':of-type' on identifier"));
	CHECK(fails("Patient", "family:not=x",
	    "unsupported modifier ':not' on family"));
	CHECK(fails("Patient", "birthdate:not=2020",
	    "unsupported modifier ':not' on birthdate"));
	CHECK(fails("Patient", "_id:contains=a",
	    "unsupported modifier ':contains' on _id"));
	CHECK(fails("Coverage", "beneficiary:identifier=x",
	    "unsupported modifier ':identifier' on beneficiary"));
	CHECK(fails("Coverage", "beneficiary:Group=x",
	    "unsupported modifier ':Group' on beneficiary"));
	CHECK(fails("Patient", "gender:missing=maybe",
	    "gender:missing: 'maybe' is not true or false"));
	CHECK(fails("Patient", "gender:missing=true,false",
	    "gender:missing takes one value, true or false"));
	CHECK(fails("Patient", "gender:=male",
	    "unsupported modifier ':' on gender"));

	/* Chains, reverse chains and result parameters. */
	CHECK(fails("Patient", "general-practitioner.name=x",
	    "chained parameters are not supported"
	    " ('general-practitioner.name')"));
	CHECK(fails("Claim", "patient:Patient.family=x",
	    "chained parameters are not supported ('patient:Patient.family')"));
	CHECK(fails("Patient", "_has:Claim:patient:status=active",
	    "reverse chaining (_has) is not supported"));
	CHECK(fails("Patient", "_count=10", "_count is not allowed in"
	    " _typeFilter"));
	CHECK(fails("Patient", "_sort=birthdate", "_sort is not allowed in"
	    " _typeFilter"));
	CHECK(fails("Patient", "_include=Patient:organization",
	    "_include is not allowed in _typeFilter"));
	CHECK(fails("Patient", "_revinclude=Claim:patient",
	    "_revinclude is not allowed in _typeFilter"));
	CHECK(fails("Patient", "_elements=id", "_elements is not allowed in"
	    " _typeFilter"));
	CHECK(fails("Patient", "_summary=true", "_summary is not allowed in"
	    " _typeFilter"));
	/* The first bad part decides; earlier good parts leave nothing. */
	CHECK(fails("Patient", "gender=male&_count=1",
	    "_count is not allowed in _typeFilter"));
	/* User text in messages is bounded and printable. */
	CHECK(fails("Patient", "x%0Ay=1",
	    "Patient: unknown search parameter 'x?y'"));
	CHECK(fails("Patient", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1",
	    "Patient: unknown search parameter 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'"));
}

static void
test_params(void)
{
	static const char *const types[] = { "Patient", "Group", "Coverage",
	    "Claim", "ClaimResponse", "Location", "Organization",
	    "Practitioner", "InsurancePlan", "Medication",
	    "ActivityDefinition" };
	const struct search_param	*sp;
	struct search_sql		 ss;
	char				 err[256];
	size_t				 n, t, i, j;
	int				 found;

	sp = search_params("Patient", &n);
	CHECK(sp != NULL && n >= 6);
	CHECK(strcmp(sp[0].sp_name, "_id") == 0 &&
	    sp[0].sp_type == SEARCH_TOKEN && strcmp(sp[0].sp_definition,
	    "http://hl7.org/fhir/SearchParameter/Resource-id") == 0);
	CHECK(strcmp(sp[1].sp_name, "_lastUpdated") == 0 &&
	    sp[1].sp_type == SEARCH_DATE && strcmp(sp[1].sp_definition,
	    "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated") == 0);
	for (found = 0, i = 0; i < n; i++)
		if (strcmp(sp[i].sp_name, "birthdate") == 0)
			found = sp[i].sp_type == SEARCH_DATE &&
			    strcmp(sp[i].sp_definition, "http://hl7.org/fhir/"
			    "SearchParameter/individual-birthdate") == 0;
	CHECK(found);
	sp = search_params("Coverage", &n);
	for (found = 0, i = 0; i < n; i++)
		if (strcmp(sp[i].sp_name, "period") == 0)
			found = sp[i].sp_definition == NULL;
	CHECK(found);
	sp = search_params("Claim", &n);
	for (found = 0, i = 0; i < n; i++)
		if (strcmp(sp[i].sp_name, "identifier") == 0)
			found = strcmp(sp[i].sp_definition, "http://hl7.org/"
			    "fhir/SearchParameter/Claim-identifier") == 0;
	CHECK(found);

	CHECK(search_params("Foo", &n) == NULL && n == 0);
	CHECK(search_params(NULL, &n) == NULL && n == 0);
	CHECK(search_type_supported("ClaimResponse"));
	CHECK(!search_type_supported("claimresponse"));
	CHECK(!search_type_supported("Observation"));
	CHECK(strcmp(search_ptype_name(SEARCH_TOKEN), "token") == 0);
	CHECK(strcmp(search_ptype_name(SEARCH_DATE), "date") == 0);
	CHECK(strcmp(search_ptype_name(SEARCH_STRING), "string") == 0);
	CHECK(strcmp(search_ptype_name(SEARCH_REFERENCE), "reference") == 0);

	/* Every table entry is complete and unique within its type, and
	 * compiles with :missing. */
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		CHECK(search_type_supported(types[t]));
		sp = search_params(types[t], &n);
		for (i = 0; i < n; i++) {
			char	q[128];

			CHECK(sp[i].sp_name != NULL && sp[i].sp_doc != NULL &&
			    sp[i].sp_how != NULL);
			CHECK(sp[i].sp_definition == NULL ||
			    strncmp(sp[i].sp_definition, "http://hl7.org/fhir/"
			    "SearchParameter/", 36) == 0);
			for (j = 0; j < i; j++)
				CHECK(strcmp(sp[i].sp_name,
				    sp[j].sp_name) != 0);
			snprintf(q, sizeof(q), "%s:missing=true",
			    sp[i].sp_name);
			search_sql_init(&ss);
			CHECK(search_compile(types[t], q, 1, &ss, err,
			    sizeof(err)) == 0 && strncmp(ss.ss_where.b_data,
			    i < 2 ? "FALSE" : "NOT jsonb_path_exists(content::"
			    "jsonb, '$.", i < 2 ? 5 : 41) == 0);
			search_sql_free(&ss);
		}
	}
}

int
main(void)
{
	test_tokens();
	test_strings();
	test_references();
	test_dates();
	test_structure();
	test_errors();
	test_params();
	return CHECK_DONE();
}
