/*
 * test_search_pg.c — bulk/search.c against a real PostgreSQL: loads
 * crafted resources into a TEMP table shaped like resources, runs the
 * compiled expressions and checks the exact sets of ids they select.
 *
 * Runs only when BULKHEAD_TEST_PG holds a libpq conninfo (scripts/pg.sh
 * start prints one); otherwise it reports itself skipped and passes.
 * Every query runs twice, under TimeZone UTC and America/New_York, since
 * the SQL must not depend on the session's time zone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"

#include "check.h"
#include "bulk/search.h"
#include "lib/buf.h"
#include "lib/xmalloc.h"

struct row {
	const char	*r_type;
	const char	*r_id;
	const char	*r_updated;	/* last_updated */
	const char	*r_json;	/* ` stands for " */
};

struct query {
	const char	*q_type;
	const char	*q_query;	/* raw, as in the URL */
	const char	*q_want;	/* ids in order, comma-separated */
};

#define OI	"https://openimis.github.io/openimis_fhir_r4_ig/CodeSystem/" \
	"openimis-identifiers"

static const struct row rows[] = {
	/* Patients. */
	{ "Patient", "p1", "2026-01-05T00:00:00Z",
	  "{`resourceType`:`Patient`,`id`:`p1`,`gender`:`female`,"
	  "`birthDate`:`1990-03-24`,`active`:true,"
	  "`name`:[{`use`:`usual`,`family`:`Smith`,`given`:[`Anna`]}],"
	  "`identifier`:[{`system`:`" OI "`,`value`:`CHF001`},"
	  "{`value`:`NOSYS1`}],"
	  "`generalPractitioner`:[{`reference`:`Organization/hf1`}]}" },
	{ "Patient", "p2", "2025-12-31T23:59:59.5Z",
	  "{`resourceType`:`Patient`,`id`:`p2`,`gender`:`male`,"
	  "`birthDate`:`1948-12-31`,`name`:[{`family`:`Smithers`,"
	  "`given`:[`Bob`,`Robert`]}],"
	  "`identifier`:[{`system`:`" OI "`,`value`:`CHF002`}]}" },
	{ "Patient", "p3", "2026-02-01T00:00:00Z",
	  "{`resourceType`:`Patient`,`id`:`p3`,`gender`:`female`,"
	  "`birthDate`:`1990`,`name`:[{`family`:`Jo,nes`}],"
	  "`identifier`:[{`system`:`urn:other`,`value`:`CHF001`}]}" },
	{ "Patient", "p4", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Patient`,`id`:`p4`,`gender`:`other`,"
	  "`birthDate`:`1990-02-30`,`name`:[{`family`:`M\xc3\xbcller`}]}" },
	{ "Patient", "p5", "2026-01-01T12:00:00Z",
	  "{`resourceType`:`Patient`,`id`:`p5`,`birthDate`:`1975-06`,"
	  "`active`:false,`name`:[{`family`:`O'Brien`}]}" },
	{ "Patient", "p6", "2025-06-01T00:00:00Z",
	  "{`resourceType`:`Patient`,`id`:`p6`,`gender`:`male`,"
	  "`birthDate`:`2000-02-29`,`name`:[{`family`:`SMITH`}]}" },
	{ "Patient", "p7", "2026-01-01T23:59:59.999999Z",
	  "{`resourceType`:`Patient`,`id`:`p7`,`gender`:`female`,"
	  "`birthDate`:`19x0-01-01`,`name`:[{`given`:[`Zoe`]}]}" },
	/* Groups (openIMIS writes "Person"; FHIR's code is "person"). */
	{ "Group", "g1", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Group`,`id`:`g1`,`type`:`person`,`actual`:true,"
	  "`identifier`:[{`system`:`" OI "`,`value`:`CHF001`}],"
	  "`member`:[{`entity`:{`reference`:`Patient/p1`}},"
	  "{`entity`:{`reference`:`Patient/p3`}}]}" },
	{ "Group", "g2", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Group`,`id`:`g2`,`type`:`Person`,`actual`:false,"
	  "`member`:[{`entity`:{`reference`:`Patient/p2`}}]}" },
	/* Coverages. */
	{ "Coverage", "c1", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Coverage`,`id`:`c1`,`status`:`active`,"
	  "`beneficiary`:{`reference`:`Patient/p1`},"
	  "`payor`:[{`reference`:`Patient/p1`}],"
	  "`period`:{`start`:`2021-08-20T00:00:00`,"
	  "`end`:`2022-08-19T00:00:00`},`class`:[{`value`:`T0001`}]}" },
	{ "Coverage", "c2", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Coverage`,`id`:`c2`,`status`:`cancelled`,"
	  "`beneficiary`:{`reference`:`Patient/p2`},"
	  "`period`:{`start`:`2022-01-01`,`end`:`2022-12-31`},"
	  "`class`:[{`value`:`T0002`}]}" },
	{ "Coverage", "c3", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Coverage`,`id`:`c3`,`status`:`active`,"
	  "`beneficiary`:{`reference`:`Patient/p3`},"
	  "`period`:{`start`:`2023-01-01`},`class`:[{`value`:`T0001`}]}" },
	{ "Coverage", "c4", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Coverage`,`id`:`c4`,`status`:`draft`,"
	  "`beneficiary`:{`reference`:`Patient/p4`},"
	  "`period`:{`start`:`2022-13-01`,`end`:`2023-01-01`}}" },
	{ "Coverage", "c5", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Coverage`,`id`:`c5`,`status`:`active`,"
	  "`beneficiary`:{`reference`:`Patient/p5`},"
	  "`period`:{`end`:`2020-06-30`}}" },
	{ "Coverage", "c6", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Coverage`,`id`:`c6`,`status`:`active`,"
	  "`beneficiary`:{`reference`:`Patient/p6`}}" },
	/* Claims. */
	{ "Claim", "cl1", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Claim`,`id`:`cl1`,`status`:`active`,`use`:`claim`,"
	  "`created`:`2026-01-02`,`patient`:{`reference`:`Patient/p1`,"
	  "`type`:`Patient`},`provider`:{`reference`:`Organization/hf1`},"
	  "`identifier`:[{`system`:`" OI "`,`value`:`T00001`}],"
	  "`priority`:{`coding`:[{`system`:"
	  "`http://terminology.hl7.org/CodeSystem/processpriority`,"
	  "`code`:`normal`}]}}" },
	{ "Claim", "cl2", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Claim`,`id`:`cl2`,`status`:`active`,`use`:`claim`,"
	  "`created`:`2026-01-02T23:30:00+02:00`,"
	  "`patient`:{`reference`:`Patient/p2`},"
	  "`provider`:{`reference`:`Organization/hf2`}}" },
	{ "Claim", "cl3", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Claim`,`id`:`cl3`,`status`:`cancelled`,"
	  "`use`:`preauthorization`,`created`:`2025-12-31T23:00:00-03:00`,"
	  "`patient`:{`reference`:`Patient/p1`},"
	  "`provider`:{`reference`:`Practitioner/hf1`}}" },
	{ "Claim", "cl4", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Claim`,`id`:`cl4`,`status`:`active`,"
	  "`created`:`2026-02`,`patient`:{`reference`:`Patient/p3`}}" },
	{ "Claim", "cl5", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Claim`,`id`:`cl5`,`status`:`active`,"
	  "`created`:`not-a-date`,`patient`:{`reference`:`Patient/p4`}}" },
	/* ClaimResponses. */
	{ "ClaimResponse", "cr1", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`ClaimResponse`,`id`:`cr1`,`outcome`:`complete`,"
	  "`created`:`2026-01-03`,`request`:{`reference`:`Claim/cl1`},"
	  "`patient`:{`reference`:`Patient/p1`}}" },
	{ "ClaimResponse", "cr2", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`ClaimResponse`,`id`:`cr2`,`outcome`:`error`,"
	  "`created`:`2026-01-04T10:00:00Z`,"
	  "`request`:{`reference`:`Claim/cl2`}}" },
	{ "ClaimResponse", "cr3", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`ClaimResponse`,`id`:`cr3`,`outcome`:`partial`,"
	  "`request`:{`reference`:`Claim/cl3`}}" },
	/* A few others. */
	{ "Medication", "m1", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Medication`,`id`:`m1`,`code`:{`coding`:["
	  "{`system`:`s1`,`code`:`c1`}]}}" },
	{ "Medication", "m2", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Medication`,`id`:`m2`,`code`:{`coding`:["
	  "{`code`:`c2`}]}}" },
	{ "Location", "l1", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Location`,`id`:`l1`,`name`:`Kinshasa`}" },
	{ "Organization", "o1", "2026-01-01T00:00:00Z",
	  "{`resourceType`:`Organization`,`id`:`o1`,"
	  "`name`:`H\xc3\xb4pital Central`}" },
};

static const struct query queries[] = {
	/* Tokens on codes. */
	{ "Patient", "gender=female", "p1,p3,p7" },
	{ "Patient", "gender=female,male", "p1,p2,p3,p6,p7" },
	{ "Patient", "gender:not=female", "p2,p4,p5,p6" },
	{ "Patient", "gender:missing=true", "p5" },
	{ "Patient", "gender=female&gender=male", "" },
	{ "Patient", "gender=http://hl7.org/fhir/administrative-gender|male",
	  "p2,p6" },
	{ "Patient", "active=true", "p1" },
	{ "Patient", "active=false", "p5" },
	/* Identifiers. */
	{ "Patient", "identifier=CHF001", "p1,p3" },
	{ "Patient", "identifier=" OI "|CHF001", "p1" },
	{ "Patient", "identifier=" OI "%7CCHF001", "p1" },
	{ "Patient", "identifier=|NOSYS1", "p1" },
	{ "Patient", "identifier=|CHF001", "" },
	{ "Patient", "identifier=urn:other|", "p3" },
	{ "Patient", "identifier=|NOSYS1,CHF002", "p1,p2" },
	{ "Patient", "identifier:not=CHF001", "p2,p4,p5,p6,p7" },
	/* Dates on birthDate (p4 and p7 hold malformed ones). */
	{ "Patient", "birthdate=1990", "p1,p3" },
	{ "Patient", "birthdate=1990-03-24", "p1" },
	{ "Patient", "birthdate=ge1990-01-01", "p1,p3,p6" },
	{ "Patient", "birthdate=lt1950-01-01", "p2" },
	{ "Patient", "birthdate=ge1990-01-01,lt1950-01-01", "p1,p2,p3,p6" },
	{ "Patient", "birthdate=gt1990-03-24", "p3,p6" },
	{ "Patient", "birthdate=sa1990-03-24", "p6" },
	{ "Patient", "birthdate=eb1976", "p2,p5" },
	{ "Patient", "birthdate=ne1990-03-24", "p2,p3,p5,p6" },
	{ "Patient", "birthdate=le1975-06-15", "p2,p5" },
	{ "Patient", "birthdate=2000-02-29", "p6" },
	{ "Patient", "birthdate=1975-06", "p5" },
	{ "Patient", "birthdate=1975-06-15", "" },
	{ "Patient", "gender=female&birthdate=ge1990-01-01", "p1,p3" },
	/* Strings. */
	{ "Patient", "family=smi", "p1,p2,p6" },
	{ "Patient", "family:exact=Smith", "p1" },
	{ "Patient", "family:contains=ITH", "p1,p2,p6" },
	{ "Patient", "family=m%C3%BC", "p4" },
	{ "Patient", "family=Jo\\,nes", "p3" },
	{ "Patient", "family=Jo,Smithers", "p2,p3" },
	{ "Patient", "family=O%27Brien", "p5" },
	{ "Patient", "family=O'Brien", "p5" },
	{ "Patient", "family=%27%29%20OR%201%3D1%20--", "" },
	{ "Patient", "family:missing=true", "p7" },
	{ "Patient", "given=rob", "p2" },
	/* References. */
	{ "Patient", "general-practitioner=hf1", "p1" },
	{ "Patient", "general-practitioner=Organization/hf1", "p1" },
	{ "Patient", "general-practitioner:Practitioner=hf1", "" },
	/* _id and _lastUpdated. */
	{ "Patient", "_id=p1,p3", "p1,p3" },
	{ "Patient", "_id:not=p1,p3", "p2,p4,p5,p6,p7" },
	{ "Patient", "_lastUpdated=gt2026-01-01", "p1,p3" },
	{ "Patient", "_lastUpdated=2026-01-01", "p4,p5,p7" },
	{ "Patient", "_lastUpdated=ge2026-01-01", "p1,p3,p4,p5,p7" },
	{ "Patient", "_lastUpdated=lt2026-01-01", "p2,p6" },
	{ "Patient", "_lastUpdated=le2025-12-31T23:59:59Z", "p2,p6" },
	{ "Patient", "_lastUpdated=eq2025-12-31T23:59:59Z", "p2" },
	{ "Patient", "_lastUpdated=gt2025-12-31T23:59:59Z", "p1,p3,p4,p5,p7" },
	{ "Patient", "_lastUpdated=ne2026-01-01", "p1,p2,p3,p6" },
	{ "Patient", "_lastUpdated=sa2026-01-01", "p1,p3" },
	{ "Patient", "_lastUpdated=eb2026-01-01", "p2,p6" },
	{ "Patient", "_lastUpdated=lt2026-01-01T01:00:00%2B01:00", "p2,p6" },
	{ "Patient", "_lastUpdated=lt2026-01-01T01:00:00+01:00", "p2,p6" },
	{ "Patient", "_lastUpdated=lt2025-12-31T19:00-05:00", "p2,p6" },
	{ "Patient", "_lastUpdated=2026-01-01T23:59:59.999999Z", "p7" },
	{ "Patient", "_lastUpdated=2026-01", "p1,p4,p5,p7" },
	/* Groups. */
	{ "Group", "type=person", "g1" },
	{ "Group", "type=Person", "g2" },
	{ "Group", "actual=true", "g1" },
	{ "Group", "member=p1", "g1" },
	{ "Group", "member=Patient/p2,Patient/p3", "g1,g2" },
	{ "Group", "identifier=CHF001", "g1" },
	/* Coverages. */
	{ "Coverage", "status=active", "c1,c3,c5,c6" },
	{ "Coverage", "beneficiary=Patient/p1", "c1" },
	{ "Coverage", "beneficiary=p2", "c2" },
	{ "Coverage", "patient=p3", "c3" },
	{ "Coverage", "payor=Patient/p1", "c1" },
	{ "Coverage", "class-value=T0001", "c1,c3" },
	{ "Coverage", "period=2022-06-01", "" },
	{ "Coverage", "period=ge2022-06-01", "c1,c2,c3" },
	{ "Coverage", "period=lt2022-01-01", "c1,c5" },
	{ "Coverage", "period=le2021-12-31", "c1,c5" },
	{ "Coverage", "period=2022", "c2" },
	{ "Coverage", "period=sa2022-12-31", "c3" },
	{ "Coverage", "period=eb2021-01-01", "c5" },
	{ "Coverage", "period=ne2022", "c1,c3,c5" },
	{ "Coverage", "period:missing=true", "c6" },
	{ "Coverage", "period=le2022-06-15&period=ge2022-06-15", "c1,c2" },
	{ "Coverage", "status=active&period=ge2022-06-15", "c1,c3" },
	/* Claims. */
	{ "Claim", "created=2026-01-02", "cl1,cl2" },
	{ "Claim", "created=lt2026-01-02", "cl3" },
	{ "Claim", "created=ge2026-01-03", "cl4" },
	{ "Claim", "created=2026-01-01", "cl3" },
	{ "Claim", "created=2026-01-02T21:30:00Z", "cl2" },
	{ "Claim", "created=ge2000", "cl1,cl2,cl3,cl4" },
	{ "Claim", "status=cancelled", "cl3" },
	{ "Claim", "use=preauthorization", "cl3" },
	{ "Claim", "patient=p1", "cl1,cl3" },
	{ "Claim", "patient=Patient/p1,Patient/p3", "cl1,cl3,cl4" },
	{ "Claim", "provider=hf1", "cl1,cl3" },
	{ "Claim", "provider:Organization=hf1", "cl1" },
	{ "Claim", "provider=Practitioner/hf1", "cl3" },
	{ "Claim", "identifier=T00001", "cl1" },
	{ "Claim", "priority=normal", "cl1" },
	{ "Claim", "priority=http://terminology.hl7.org/CodeSystem/"
	  "processpriority|normal", "cl1" },
	/* ClaimResponses. */
	{ "ClaimResponse", "outcome=complete", "cr1" },
	{ "ClaimResponse", "outcome=complete,error", "cr1,cr2" },
	{ "ClaimResponse", "request=Claim/cl1", "cr1" },
	{ "ClaimResponse", "request=cl2", "cr2" },
	{ "ClaimResponse", "created=ge2026-01-04", "cr2" },
	{ "ClaimResponse", "created:missing=true", "cr3" },
	/* Others. */
	{ "Medication", "code=c1", "m1" },
	{ "Medication", "code=s1|c1", "m1" },
	{ "Medication", "code=|c2", "m2" },
	{ "Medication", "code=|c1", "" },
	{ "Medication", "code=s1|", "m1" },
	{ "Location", "name=kin", "l1" },
	{ "Organization", "name=h%C3%B4p", "o1" },
	{ "Patient", "", "p1,p2,p3,p4,p5,p6,p7" },
};

/* Runs 'sql' with the given parameters; the selected ids, comma-joined,
 * go into 'ids'.  Returns 0, or -1 (printed) on a database error. */
static int
run_ids(PGconn *conn, const char *sql, int n, const char *const *params,
    struct buf *ids)
{
	PGresult	*res;
	int		 i, rc = -1;

	buf_reset(ids);
	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "query failed: %s\n  %.300s\n",
		    PQerrorMessage(conn), sql);
		goto out;
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (i > 0)
			buf_putc(ids, ',');
		buf_puts(ids, PQgetvalue(res, i, 0));
	}
	if (ids->b_data == NULL)
		buf_puts(ids, "");
	rc = 0;
 out:
	PQclear(res);
	return rc;
}

static int
exec_ok(PGconn *conn, const char *sql)
{
	PGresult	*res = PQexec(conn, sql);
	int		 ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

static void
load(PGconn *conn)
{
	const char	*p[4];
	char		*json, *s;
	PGresult	*res;
	size_t		 i;

	CHECK(exec_ok(conn, "CREATE TEMP TABLE tmp (type text NOT NULL,"
	    " id text NOT NULL, version integer NOT NULL DEFAULT 1,"
	    " last_updated timestamptz NOT NULL, patient text,"
	    " deleted boolean NOT NULL DEFAULT false, content text NOT NULL,"
	    " PRIMARY KEY (type, id))"));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json = xstrdup(rows[i].r_json);
		for (s = json; *s != '\0'; s++)
			if (*s == '`')
				*s = '"';
		p[0] = rows[i].r_type;
		p[1] = rows[i].r_id;
		p[2] = rows[i].r_updated;
		p[3] = json;
		res = PQexecParams(conn, "INSERT INTO tmp (type, id,"
		    " last_updated, content) VALUES ($1, $2, $3, $4)", 4, NULL,
		    p, NULL, NULL, 0);
		CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
		PQclear(res);
		free(json);
	}
}

/* Compiles and runs one query; checks the ids. */
static void
check_query(PGconn *conn, const struct query *q, const char *tz)
{
	struct search_sql	 ss;
	struct buf		 sql, ids;
	const char		*params[1 + SEARCH_MAX_PARAMS];
	char			 err[256];
	int			 i;

	search_sql_init(&ss);
	buf_init(&sql, 1 << 20);
	buf_init(&ids, 1 << 16);
	if (search_compile(q->q_type, q->q_query, 2, &ss, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s?%s: %s\n", q->q_type, q->q_query, err);
		CHECK(!"compile failed");
		goto out;
	}
	buf_printf(&sql, "SELECT id FROM tmp WHERE type = $1 AND %s ORDER BY"
	    " id", ss.ss_where.b_data);
	params[0] = q->q_type;
	for (i = 0; i < ss.ss_nparams; i++)
		params[i + 1] = ss.ss_params[i];
	if (run_ids(conn, sql.b_data, 1 + ss.ss_nparams, params, &ids) == -1) {
		CHECK(!"query failed");
		goto out;
	}
	if (strcmp(ids.b_data, q->q_want) != 0) {
		fprintf(stderr, "[%s] %s?%s: got {%s}, want {%s}\n", tz,
		    q->q_type, q->q_query, ids.b_data, q->q_want);
		CHECK(!"wrong ids");
	} else
		CHECK(1);
 out:
	buf_free(&sql);
	buf_free(&ids);
	search_sql_free(&ss);
}

/* Two _typeFilter entries for one type share a statement: OR, with the
 * second numbered after the first. */
static void
check_or(PGconn *conn)
{
	struct search_sql	 a, b;
	struct buf		 sql, ids;
	const char		*params[1 + 2 * SEARCH_MAX_PARAMS];
	char			 err[256];
	int			 i, n = 0;

	search_sql_init(&a);
	search_sql_init(&b);
	buf_init(&sql, 1 << 20);
	buf_init(&ids, 1 << 16);
	CHECK(search_compile("Patient", "gender=male", 2, &a, err,
	    sizeof(err)) == 0);
	CHECK(search_compile("Patient", "birthdate=1990&family=smi",
	    2 + a.ss_nparams, &b, err, sizeof(err)) == 0);
	buf_printf(&sql, "SELECT id FROM tmp WHERE type = $1 AND (%s OR %s)"
	    " ORDER BY id", a.ss_where.b_data, b.ss_where.b_data);
	params[n++] = "Patient";
	for (i = 0; i < a.ss_nparams; i++)
		params[n++] = a.ss_params[i];
	for (i = 0; i < b.ss_nparams; i++)
		params[n++] = b.ss_params[i];
	CHECK(run_ids(conn, sql.b_data, n, params, &ids) == 0 &&
	    strcmp(ids.b_data, "p1,p2,p6") == 0);
	buf_free(&sql);
	buf_free(&ids);
	search_sql_free(&a);
	search_sql_free(&b);
}

/* Stored dates of every shape, good and bad: no bad one may abort the
 * query, and exactly the good ones have a range. */
static void
check_stored_dates(PGconn *conn)
{
	static const char *const good[] = { "2000-02-29", "2024-02-29",
	    "1600-02-29", "2026-04-30", "2026-12-31T23:59:59.123456789Z",
	    "2026-01-01T10:00", "2026-01-01T10:00:00-14:00", "0001-01-01",
	    "9999-12-31", "9999", "2026-02", "2026-01-01T00:00:00+05:30" };
	static const char *const bad[] = { "1900-02-29", "2023-02-29",
	    "2026-04-31", "0000-01-01", "0000", "2026-00", "2026-13",
	    "2026-01-00", "2026-01-32", "2026-01-01T24:00:00Z",
	    "2026-01-01T10:60", "2026-01-01T10:00:00+15:00",
	    "2026-01-01T10:00:00.Z", "", "2026-1-1", " 2026",
	    "2026-01-01 10:00:00", "abcd", "1e10",
	    "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96",
	    "2026-01-01T10:00:00.1234567890Z", "2026-01-01T10", "2026-01-01T",
	    "2026-01-01Z", "2026-06-31" };
	const char	*p[3];
	struct buf	 json, want, ids;
	PGresult	*res;
	char		 id[16];
	size_t		 i;

	buf_init(&json, 4096);
	buf_init(&want, 4096);
	buf_init(&ids, 1 << 16);
	CHECK(exec_ok(conn, "DELETE FROM tmp"));
	for (i = 0; i < sizeof(good) / sizeof(good[0]) +
	    sizeof(bad) / sizeof(bad[0]); i++) {
		const char *v = i < sizeof(good) / sizeof(good[0]) ? good[i] :
		    bad[i - sizeof(good) / sizeof(good[0])];

		snprintf(id, sizeof(id), "%c%02zu",
		    i < sizeof(good) / sizeof(good[0]) ? 'g' : 'x', i);
		buf_reset(&json);
		buf_printf(&json, "{\"resourceType\":\"Patient\","
		    "\"birthDate\":\"%s\",\"period\":{\"start\":\"%s\"}}",
		    v, v);
		p[0] = id;
		p[1] = json.b_data;
		res = PQexecParams(conn, "INSERT INTO tmp (type, id,"
		    " last_updated, content) VALUES ('Patient', $1, now(), $2)",
		    2, NULL, p, NULL, NULL, 0);
		CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
		PQclear(res);
		if (i < sizeof(good) / sizeof(good[0])) {
			if (want.b_len > 0)
				buf_putc(&want, ',');
			buf_puts(&want, id);
		}
	}
	{
		static const struct query q[] = {
			{ "Patient", "birthdate=ge0001", NULL },
			{ "Patient", "birthdate=le9999", NULL },
			{ "Patient", "birthdate=ne1800", NULL },
		};

		for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
			struct query	qq = q[i];

			qq.q_want = want.b_data;
			check_query(conn, &qq, "stored dates");
		}
	}
	/* Through a Period (Coverage period is the same code): every start
	 * parses or is rejected the same way. */
	CHECK(exec_ok(conn, "UPDATE tmp SET type = 'Coverage'"));
	{
		struct query	qq = { "Coverage", "period=ge0001", NULL };

		qq.q_want = want.b_data;
		check_query(conn, &qq, "stored periods");
	}
	CHECK(exec_ok(conn, "DELETE FROM tmp"));
	buf_free(&json);
	buf_free(&want);
	buf_free(&ids);
}

/* Compiles type?query and runs it; returns 1 if both worked, 0 if the
 * compile failed, -1 (printed) if PostgreSQL rejected the SQL. */
static int
runs(PGconn *conn, const char *type, const char *query)
{
	struct search_sql	 ss;
	struct buf		 sql, ids;
	const char		*params[1 + SEARCH_MAX_PARAMS];
	char			 err[256];
	int			 i, rc = 0;

	search_sql_init(&ss);
	buf_init(&sql, 1 << 20);
	buf_init(&ids, 1 << 16);
	if (search_compile(type, query, 2, &ss, err, sizeof(err)) == 0) {
		buf_printf(&sql, "SELECT id FROM tmp WHERE type = $1 AND %s",
		    ss.ss_where.b_data);
		params[0] = type;
		for (i = 0; i < ss.ss_nparams; i++)
			params[i + 1] = ss.ss_params[i];
		rc = run_ids(conn, sql.b_data, 1 + ss.ss_nparams, params,
		    &ids) == 0 ? 1 : -1;
		if (rc == -1)
			fprintf(stderr, "  (%s?%s)\n", type, query);
	}
	buf_free(&sql);
	buf_free(&ids);
	search_sql_free(&ss);
	return rc;
}

/* Every parameter of every type, with each modifier it takes, compiles
 * to SQL that PostgreSQL accepts (the jsonpaths parse, the casts fit). */
static void
check_every_param(PGconn *conn)
{
	static const char *const types[] = { "Patient", "Group", "Coverage",
	    "Claim", "ClaimResponse", "Location", "Organization",
	    "Practitioner", "InsurancePlan", "Medication",
	    "ActivityDefinition" };
	/* Per parameter type: suffixes tried in turn (some token elements
	 * take fewer forms); the first that compiles must also run. */
	static const char *const token[] = { "=x,s|y,|z,s|", "=x,s|y",
	    "=true,false", "=x,y", NULL };
	static const char *const tokmod[] = { ":not=x,s|y", ":not=true",
	    ":not=x", NULL };
	static const char *const date[] = { "=2020,ne2020-01,gt2020-01-01,"
	    "lt2020-01-01T10:00,ge2020-01-01T10:00:00Z,sa2020,eb2020,"
	    "le2020-01-01T10:00:00.5%2B02:00", NULL };
	static const char *const string[] = { "=a,b", NULL };
	static const char *const strmod[] = { ":exact=a", NULL };
	static const char *const strmod2[] = { ":contains=a", NULL };
	static const char *const ref[] = { "=x,http://h/fhir/X/y", NULL };
	static const char *const missing[] = { ":missing=true", NULL };
	static const char *const present[] = { ":missing=false", NULL };
	const char *const		*sets[5];
	const struct search_param	*sp;
	struct buf			 q;
	size_t				 t, i, j, k, n;
	int				 r;

	buf_init(&q, 4096);
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		sp = search_params(types[t], &n);
		CHECK(sp != NULL && n >= 2);
		for (i = 0; sp != NULL && i < n; i++) {
			memset(sets, 0, sizeof(sets));
			sets[0] = missing;
			sets[1] = present;
			switch (sp[i].sp_type) {
			case SEARCH_TOKEN:
				sets[2] = token;
				sets[3] = tokmod;
				break;
			case SEARCH_DATE:
				sets[2] = date;
				break;
			case SEARCH_STRING:
				sets[2] = string;
				sets[3] = strmod;
				sets[4] = strmod2;
				break;
			case SEARCH_REFERENCE:
				sets[2] = ref;
				break;
			}
			for (j = 0; j < 5 && sets[j] != NULL; j++) {
				r = 0;
				for (k = 0; r == 0 && sets[j][k] != NULL;
				    k++) {
					buf_reset(&q);
					buf_printf(&q, "%s%s", sp[i].sp_name,
					    sets[j][k]);
					r = runs(conn, types[t], q.b_data);
				}
				if (r != 1)
					fprintf(stderr, "%s.%s: no form of"
					    " set %zu ran\n", types[t],
					    sp[i].sp_name, j);
				CHECK(r == 1);
			}
		}
	}
	buf_free(&q);
}

int
main(void)
{
	const char	*conninfo = getenv("BULKHEAD_TEST_PG");
	PGconn		*conn;
	size_t		 i;

	if (conninfo == NULL || *conninfo == '\0') {
		printf("0 passed, 0 failed"
		    " (skipped: BULKHEAD_TEST_PG unset)\n");
		return 0;
	}
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "test_search_pg: %s", PQerrorMessage(conn));
		PQfinish(conn);
		CHECK(!"connect");
		return CHECK_DONE();
	}
	load(conn);
	CHECK(exec_ok(conn, "SET TimeZone = 'UTC'"));
	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
		check_query(conn, &queries[i], "UTC");
	check_or(conn);
	CHECK(exec_ok(conn, "SET TimeZone = 'America/New_York'"));
	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
		check_query(conn, &queries[i], "America/New_York");
	check_every_param(conn);
	check_stored_dates(conn);
	PQfinish(conn);
	return CHECK_DONE();
}
