/*
 * test_ndjson.c — store/ndjson.c: fields, compartments, rejections.
 */
#include <string.h>

#include "check.h"
#include "store/ndjson.h"

static int
parse(const char *s, struct ndjson_resource *r, char *err, size_t errlen)
{
	return ndjson_parse(s, strlen(s), r, err, errlen, NULL);
}

static int
field_is(const char *p, size_t n, const char *want)
{
	return p != NULL && strlen(want) == n && memcmp(p, want, n) == 0;
}

/* Instants as PostgreSQL stores them; the expected values were read
 * from PostgreSQL 15 ('...'::timestamptz as microseconds since 2000),
 * rounding of sub-microsecond fractions and a leap second included. */
static void
test_instants(void)
{
	static const struct {
		const char	*in;
		int64_t		 usec;
	} t[] = {
		{ "2000-01-01T00:00:00Z", 0 },
		{ "1970-01-01T00:00:00Z", -INT64_C(946684800000000) },
		{ "2026-10-24T18:23:18.5+02:00", INT64_C(846174198500000) },
		{ "2016-12-31T23:59:60Z", INT64_C(536544000000000) },
		{ "0001-01-01T00:00:00-14:00", -INT64_C(63082231200000000) },
		{ "2024-02-29T12:00:00.1234565Z", INT64_C(762523200123456) },
		{ "2024-02-29T12:00:00.9999995+14:00",
		    INT64_C(762472801000000) },
		{ "9999-12-31T23:59:59.999999Z", INT64_C(252455615999999999) },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK(ndjson_valid_instant(t[i].in, strlen(t[i].in)));
		CHECK(ndjson_instant_usec(t[i].in, strlen(t[i].in)) ==
		    t[i].usec);
	}
}

int
main(void)
{
	struct ndjson_resource	r;
	char			err[256];

	test_instants();
	CHECK(parse("{\"resourceType\":\"Claim\",\"id\":\"c-1.x\","
	    "\"patient\":{\"reference\":\"Patient/p9\"},\"meta\":"
	    "{\"versionId\":\"3\",\"lastUpdated\":\"2026-01-02T03:04:05Z\"}}",
	    &r, err, sizeof(err)) == 0);
	CHECK(field_is(r.nr_type, r.nr_type_len, "Claim"));
	CHECK(field_is(r.nr_id, r.nr_id_len, "c-1.x"));
	CHECK(field_is(r.nr_patient, r.nr_patient_len, "p9"));
	CHECK(field_is(r.nr_updated, r.nr_updated_len,
	    "2026-01-02T03:04:05Z"));

	/* The compartment member may come before resourceType. */
	CHECK(parse("{\"beneficiary\":{\"reference\":\"Patient/b\"},"
	    "\"resourceType\":\"Coverage\",\"id\":\"cv\"}", &r, err,
	    sizeof(err)) == 0 && field_is(r.nr_patient, r.nr_patient_len, "b"));
	CHECK(parse("{\"resourceType\":\"Patient\",\"id\":\"p\"}", &r, err,
	    sizeof(err)) == 0 && field_is(r.nr_patient, r.nr_patient_len, "p"));
	CHECK(parse("{\"resourceType\":\"Location\",\"id\":\"l\","
	    "\"patient\":{\"reference\":\"Patient/x\"}}", &r, err,
	    sizeof(err)) == 0 && r.nr_patient == NULL);
	CHECK(parse("{\"resourceType\":\"Claim\",\"id\":\"c\",\"patient\":"
	    "{\"reference\":\"Group/x\"}}", &r, err, sizeof(err)) == 0 &&
	    r.nr_patient == NULL);

	CHECK(parse("{\"id\":\"x\"}", &r, err, sizeof(err)) == -1 &&
	    strstr(err, "resourceType") != NULL);
	CHECK(parse("{\"resourceType\":\"Patient\"}", &r, err,
	    sizeof(err)) == -1 && strstr(err, "missing id") != NULL);
	CHECK(parse("{\"resourceType\":\"Patient\",\"id\":\"a b\"}", &r, err,
	    sizeof(err)) == -1 && strstr(err, "id syntax") != NULL);
	CHECK(parse("{\"resourceType\":\"Patient\",\"id\":\"a\",\"id\":\"b\"}",
	    &r, err, sizeof(err)) == -1);
	CHECK(parse("{\"resourceType\":\"patient\",\"id\":\"a\"}", &r, err,
	    sizeof(err)) == -1);
	CHECK(parse("{\"resourceType\":\"Patient\",\"id\":\"a\",\"meta\":"
	    "{\"lastUpdated\":\"yesterday\"}}", &r, err, sizeof(err)) == -1);
	CHECK(parse("{\"resourceType\":\"Patient\",\"id\":\"a\"",
	    &r, err, sizeof(err)) == -1 && strstr(err, "invalid JSON") != NULL);

	CHECK(ndjson_valid_instant("2026-02-28T23:59:60.123456+05:30", 32));
	CHECK(!ndjson_valid_instant("2026-13-01T00:00:00Z", 20));
	CHECK(!ndjson_valid_instant("2026-01-01T00:00:00", 19));
	CHECK(!ndjson_valid_instant("2026-01-01T00:00:00+0530", 24));
	/* The calendar, seconds and offsets are checked too. */
	CHECK(!ndjson_valid_instant("2026-02-30T00:00:00Z", 20));
	CHECK(!ndjson_valid_instant("2026-04-31T00:00:00Z", 20));
	CHECK(!ndjson_valid_instant("2025-02-29T00:00:00Z", 20));
	CHECK(ndjson_valid_instant("2024-02-29T00:00:00Z", 20));
	CHECK(!ndjson_valid_instant("2100-02-29T00:00:00Z", 20));
	CHECK(ndjson_valid_instant("2000-02-29T00:00:00Z", 20));
	CHECK(!ndjson_valid_instant("2026-01-01T00:00:61Z", 20));
	CHECK(!ndjson_valid_instant("2026-01-01T00:00:00+25:00", 25));
	CHECK(!ndjson_valid_instant("2026-01-01T00:00:00+14:30", 25));
	CHECK(ndjson_valid_instant("2026-01-01T00:00:00-14:00", 25));
	CHECK(ndjson_valid_id("abc", 3) && !ndjson_valid_id("", 0));
	CHECK(!ndjson_valid_id("a/b", 3));
	return CHECK_DONE();
}
