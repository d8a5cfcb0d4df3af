/*
 * fhir_types.c — the R4 resource type list (hl7.org/fhir/R4/resourcelist).
 */
#include <stdlib.h>
#include <string.h>

#include "store/fhir_types.h"
#include "store/ndjson.h"

static const char *const fhir_r4_types[] = {
	"Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance",
	"Appointment", "AppointmentResponse", "AuditEvent", "Basic", "Binary",
	"BiologicallyDerivedProduct", "BodyStructure", "Bundle",
	"CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry",
	"ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse",
	"ClinicalImpression", "CodeSystem", "Communication",
	"CommunicationRequest", "CompartmentDefinition", "Composition",
	"ConceptMap", "Condition", "Consent", "Contract", "Coverage",
	"CoverageEligibilityRequest", "CoverageEligibilityResponse",
	"DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric",
	"DeviceRequest", "DeviceUseStatement", "DiagnosticReport",
	"DocumentManifest", "DocumentReference", "EffectEvidenceSynthesis",
	"Encounter", "Endpoint", "EnrollmentRequest", "EnrollmentResponse",
	"EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable",
	"ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory",
	"Flag", "Goal", "GraphDefinition", "Group", "GuidanceResponse",
	"HealthcareService", "ImagingStudy", "Immunization",
	"ImmunizationEvaluation", "ImmunizationRecommendation",
	"ImplementationGuide", "InsurancePlan", "Invoice", "Library",
	"Linkage", "List", "Location", "Measure", "MeasureReport", "Media",
	"Medication", "MedicationAdministration", "MedicationDispense",
	"MedicationKnowledge", "MedicationRequest", "MedicationStatement",
	"MedicinalProduct", "MedicinalProductAuthorization",
	"MedicinalProductContraindication", "MedicinalProductIndication",
	"MedicinalProductIngredient", "MedicinalProductInteraction",
	"MedicinalProductManufactured", "MedicinalProductPackaged",
	"MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect",
	"MessageDefinition", "MessageHeader", "MolecularSequence",
	"NamingSystem", "NutritionOrder", "Observation",
	"ObservationDefinition", "OperationDefinition", "OperationOutcome",
	"Organization", "OrganizationAffiliation", "Parameters", "Patient",
	"PaymentNotice", "PaymentReconciliation", "Person", "PlanDefinition",
	"Practitioner", "PractitionerRole", "Procedure", "Provenance",
	"Questionnaire", "QuestionnaireResponse", "RelatedPerson",
	"RequestGroup", "ResearchDefinition", "ResearchElementDefinition",
	"ResearchStudy", "ResearchSubject", "RiskAssessment",
	"RiskEvidenceSynthesis", "Schedule", "SearchParameter",
	"ServiceRequest", "Slot", "Specimen", "SpecimenDefinition",
	"StructureDefinition", "StructureMap", "Subscription", "Substance",
	"SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
	"SubstanceReferenceInformation", "SubstanceSourceMaterial",
	"SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task",
	"TerminologyCapabilities", "TestReport", "TestScript", "ValueSet",
	"VerificationResult", "VisionPrescription",
};

/* Order matters: reference targets first, so a consumer loading the
 * files in manifest order meets targets before the references to them. */
static const char *const fhir_openimis_types[] = {
	"Location", "Organization", "Practitioner", "InsurancePlan",
	"Medication", "ActivityDefinition", "Patient", "Group", "Coverage",
	"Claim", "ClaimResponse",
};

static int
fhir_type_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

int
fhir_type_valid(const char *name)
{
	return bsearch(name, fhir_r4_types, sizeof(fhir_r4_types) /
	    sizeof(fhir_r4_types[0]), sizeof(fhir_r4_types[0]),
	    fhir_type_cmp) != NULL;
}

const char *const *
fhir_types_openimis(size_t *n)
{
	*n = sizeof(fhir_openimis_types) / sizeof(fhir_openimis_types[0]);
	return fhir_openimis_types;
}

int
fhir_type_in_compartment(const char *name)
{
	return strcmp(name, "Patient") == 0 || strcmp(name, "Group") == 0 ||
	    ndjson_compartment_param(name, strlen(name)) != NULL;
}

int
fhir_type_is_context(const char *name)
{
	return strcmp(name, "Organization") == 0 ||
	    strcmp(name, "Practitioner") == 0 ||
	    strcmp(name, "Location") == 0;
}
