/*
 * search_param.c — the search parameters _typeFilter supports, per
 * resource type: each row names its element's member path in the stored
 * JSON ("name[].family", "[]" marks an array) and the strategy that
 * compiles it (search.c, search_date.c).  The table is the one source
 * of the CapabilityStatement's searchParam lists (search_params()).
 * Constant data only; any thread.
 */
#include <string.h>

#include "bulk/search.h"
#include "bulk/search_int.h"

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

const struct search_type *
search_type_find(const char *type)
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
	const struct search_type	*st = search_type_find(type);

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
	return search_type_find(type) != NULL;
}

const struct search_param *
search_param_find(const struct search_type *st, const char *name)
{
	size_t	i;

	for (i = 0; i < st->st_nparams; i++)
		if (strcmp(st->st_params[i].sp_name, name) == 0)
			return &st->st_params[i];
	return NULL;
}
