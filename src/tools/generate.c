/*
 * generate.c — "bulkhead generate": a deterministic, openIMIS-shaped FHIR R4
 * dataset as NDJSON, one <Type>.ndjson per resource type (OPENIMIS.md A1).
 *
 * DESIGN
 * The dataset is a pure function of (--seed, --families, --today).  Small
 * reference tables (locations, facilities, practitioners, products, items,
 * services) are built first and kept; families are then streamed and never
 * kept.  Each family has a "skeleton" (size, village, facility, product,
 * policy dates and status) drawn from its own PRNG stream keyed on (seed,
 * family index), and every id is a hash of (seed, kind, index).  Any part
 * of the output can thus be produced without the rest: the insuree side
 * (Patient, Group, Coverage) and the claim side (Claim, ClaimResponse,
 * Provenance) run in two processes under --jobs 2 and still agree on every
 * reference, byte for byte, with --jobs 1.
 *
 * Provenance says who submitted a claim: the claim administrator who
 * entered it, for its health facility, through that facility's software
 * (a source entity).  Most claims have one (CREATE); some were amended
 * later and have a second (UPDATE) recorded at the claim's lastUpdated;
 * a few, entered before it was kept, have none.  Its draws come from a
 * stream of their own, so Claim and ClaimResponse are as without it.
 *
 * JSON is formatted by hand into a 1 MiB buffer per file (no cJSON, no
 * printf per field); the files are written as <Type>.ndjson.tmp and renamed
 * only when every file is complete.  Memory use is flat: a few hundred
 * table rows plus one family at a time.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/civil.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "tools/generate.h"

#define GEN_PROG		"bulkhead generate"
#define GEN_MAX_FAMILIES	9999999		/* keeps CHFIDs at 9 digits */
#define GEN_DEFAULT_FAMILIES	1000
#define GEN_OUTBUF		(1 << 20)	/* write buffer per file */
#define GEN_MAX_MEMBERS		9		/* insurees per family */
#define GEN_MAX_CLAIMS		3		/* claims per insuree */
#define GEN_MAX_LINES		6		/* items + services per claim */
#define GEN_CURRENCY		"EUR"		/* openIMIS' fallback */
#define GEN_PROV_NONE		8	/* % of claims with no Provenance */
#define GEN_PROV_AMENDED	15	/* % of the others amended later */
/* Identifier system of a facility's claim software (synthetic). */
#define GEN_SOURCE_SYSTEM	"https://example.org/openimis/hf-software"

/* The location tree and what hangs off it (sizes are per parent). */
#define GEN_NREGION		3
#define GEN_DISTRICTS_PER	4
#define GEN_WARDS_PER		4
#define GEN_VILLAGES_PER	5
#define GEN_NDISTRICT		(GEN_NREGION * GEN_DISTRICTS_PER)
#define GEN_NWARD		(GEN_NDISTRICT * GEN_WARDS_PER)
#define GEN_NVILLAGE		(GEN_NWARD * GEN_VILLAGES_PER)
#define GEN_NLOC		(GEN_NREGION + GEN_NDISTRICT + GEN_NWARD + \
				    GEN_NVILLAGE)
#define GEN_HF_PER		4	/* hospital, 2 centres, dispensary */
#define GEN_NHF			(GEN_NDISTRICT * GEN_HF_PER)
#define GEN_NADMIN		(GEN_NHF + GEN_NDISTRICT) /* hospitals: 2 */
#define GEN_OFFICERS_PER	2
#define GEN_NOFFICER		(GEN_NDISTRICT * GEN_OFFICERS_PER)

#define IG		"https://openimis.github.io/openimis_fhir_r4_ig/"
#define IG_SD		IG "StructureDefinition/"
#define IG_CS		IG "CodeSystem/"
#define ID_TYPE(code)	"{\"type\":{\"coding\":[{\"system\":\"" IG_CS \
			"openimis-identifiers\",\"code\":\"" code "\"}]}," \
			"\"use\":\"usual\",\"value\":\""
#define CODING(sys)	"{\"coding\":[{\"system\":\"" sys "\",\"code\":\""
#define OUT_LIT(o, lit)	out_mem((o), "" lit, sizeof(lit) - 1)

enum gen_type {
	GT_LOCATION,
	GT_ORGANIZATION,
	GT_PRACTITIONER,
	GT_INSURANCEPLAN,
	GT_MEDICATION,
	GT_ACTIVITYDEFINITION,
	GT_GROUP,
	GT_PATIENT,
	GT_COVERAGE,
	GT_CLAIM,
	GT_CLAIMRESPONSE,
	GT_PROVENANCE,
	GT_COUNT
};

static const char *const gen_type_names[GT_COUNT] = {
	"Location", "Organization", "Practitioner", "InsurancePlan",
	"Medication", "ActivityDefinition", "Group", "Patient", "Coverage",
	"Claim", "ClaimResponse", "Provenance",
};

/* Id kinds: one hash domain each, so ids never collide across kinds. */
enum gen_kind {
	GK_LOCATION = 1,
	GK_HF,
	GK_INSURER,
	GK_ADMIN,
	GK_OFFICER,
	GK_PRODUCT,
	GK_ITEM,
	GK_SERVICE,
	GK_GROUP,
	GK_PATIENT,
	GK_COVERAGE,
	GK_CLAIM,
	GK_CLAIMRESPONSE,
	GK_PROVENANCE,		/* new kinds go last: old ids stay */
};

/* PRNG streams. */
enum gen_stream {
	GS_WORLD = 1,
	GS_FAMILY,
	GS_MEMBERS,
	GS_CLAIMS,
	GS_PROVENANCE,		/* keyed on the claim, not the family */
};

enum gen_policy {
	GP_ACTIVE,
	GP_DRAFT,
	GP_CANCELLED,
};

struct gen_uuid {
	uint64_t	 u_hi;		/* 8-4-4 */
	uint64_t	 u_lo;		/* 4-12 */
};

struct gen_rng {
	uint64_t	 r_state;	/* splitmix64 */
};

struct gen_out {
	FILE		*o_fp;		/* NULL when closed */
	char		*o_buf;		/* GEN_OUTBUF bytes */
	size_t		 o_len;		/* bytes pending in o_buf */
	uint64_t	 o_bytes;	/* bytes handed to stdio so far */
	uint64_t	 o_count;	/* resources written */
	int		 o_errno;	/* first write error, 0 if none */
	char		*o_tmp;		/* <dir>/<Type>.ndjson.tmp */
	char		*o_path;	/* <dir>/<Type>.ndjson */
};

struct gen_loc {
	char		 l_code[16];	/* LC code: R1, R1D2, R1D2M3, … */
	char		 l_name[24];
	char		 l_type;	/* R, D, W, V */
	int		 l_parent;	/* index, -1 for a region */
	struct gen_uuid	 l_id;
	int64_t		 l_updated;	/* meta.lastUpdated, epoch seconds */
};

struct gen_hf {
	char		 h_code[12];	/* HFCode, 8 chars */
	char		 h_name[64];
	char		 h_level;	/* H, C, D */
	char		 h_care;	/* I, O, B */
	char		 h_legal;	/* C, D, G, P */
	int		 h_district;	/* index into g_loc */
	char		 h_phone[16];
	struct gen_uuid	 h_id;
	int64_t		 h_updated;
	int		 h_admin;	/* first claim admin */
	int		 h_nadmin;
};

struct gen_person {
	char		 p_code[16];	/* ClaimAdminCode or officer Code */
	const char	*p_family;
	const char	*p_given;
	char		 p_gender;	/* M, F */
	int64_t		 p_birth;	/* days */
	char		 p_phone[16];
	int		 p_hf;		/* claim admin: its HF; else -1 */
	int		 p_district;	/* officer: its district; else -1 */
	struct gen_uuid	 p_id;
	int64_t		 p_updated;
};

struct gen_product {
	const char	*pr_code;
	const char	*pr_name;
	int		 pr_region;	/* region index, -1 for national */
	int64_t		 pr_lumpsum;	/* cents */
	int64_t		 pr_adult;	/* cents */
	int64_t		 pr_child;	/* cents */
	unsigned	 pr_members;	/* max members */
};

struct gen_medical {
	const char	*m_code;
	const char	*m_name;
	const char	*m_pkg;		/* item: package; service: unused */
	char		 m_type;	/* item: D, M; service: P, C */
	char		 m_care;	/* O, I, B */
	int64_t		 m_price;	/* cents */
};

struct gen_code {
	const char	*c_code;
	const char	*c_display;
};

struct gen_family {
	uint64_t	 f_index;
	unsigned	 f_nmem;
	int		 f_village;	/* index into g_loc */
	int		 f_district;
	int		 f_hf;		/* index into g_hf */
	int		 f_product;
	int		 f_officer;
	int64_t		 f_enroll;	/* days */
	int64_t		 f_start;
	int64_t		 f_effective;
	int64_t		 f_end;
	enum gen_policy	 f_status;
};

struct gen_member {
	int		 m_rel;		/* tblRelations id, 0 for the head */
	char		 m_gender;	/* M, F */
	char		 m_marital;	/* M, S, D, W: never N */
	int64_t		 m_birth;	/* days */
	const char	*m_given;
};

struct gen_line {
	int		 ln_service;	/* 0 item (Medication), 1 service */
	int		 ln_idx;	/* index into the item/service table */
	unsigned	 ln_qty;
	int64_t		 ln_price;	/* cents */
	int		 ln_reason;	/* rejection reason, 0 accepted */
};

struct gen_claim {
	struct gen_uuid		 c_id;		/* Claim id */
	struct gen_uuid		 c_resp;	/* its ClaimResponse id */
	struct gen_uuid		 c_patient;
	uint64_t		 c_code;	/* ClaimCode: C0000001 */
	char			 c_visit;	/* E, R, O */
	int64_t			 c_from;	/* billablePeriod, days */
	int64_t			 c_to;
	int64_t			 c_created;	/* DateClaimed */
	int64_t			 c_resp_created;
	int			 c_hf;		/* provider, index into g_hf */
	int			 c_admin;	/* enterer, into g_admin */
	int			 c_diag[2];	/* indexes into gen_diagnoses */
	int			 c_ndiag;
	struct gen_line		 c_line[GEN_MAX_LINES];
	int			 c_nline;
	int64_t			 c_total;	/* claimed, cents */
	int64_t			 c_approved;	/* cents */
	int			 c_outcome;	/* complete, partial, error */
};

struct gen_stats {
	uint64_t	 s_bytes[GT_COUNT];
	uint64_t	 s_count[GT_COUNT];
};

struct gen {
	uint64_t	 g_seed;
	uint64_t	 g_key;		/* the seed, mixed */
	uint64_t	 g_families;
	int64_t		 g_today;	/* days since the epoch */
	int		 g_jobs;
	const char	*g_dir;
	struct gen_out	 g_out[GT_COUNT];
	struct gen_loc	 g_loc[GEN_NLOC];
	struct gen_hf	 g_hf[GEN_NHF];
	struct gen_person g_admin[GEN_NADMIN];
	struct gen_person g_officer[GEN_NOFFICER];
	int64_t		 g_product_updated[8];
	int64_t		 g_item_updated[32];
	int64_t		 g_service_updated[32];
	int64_t		 g_insurer_updated;
};

/* Reference tables (A1.9 value domains; names are synthetic). */

static const struct gen_product gen_products[] = {
	{ "BCUL0001", "Basic Cover Ultha", 0, 1000000, 0, 0, 6 },
	{ "FCUL0001", "Full Cover Ultha", 0, 2000000, 400000, 200000, 9 },
	{ "NBC001", "National Basic Cover", -1, 1200000, 0, 0, 6 },
	{ "NHC0001", "National Health Cover Plus", -1, 0, 500000, 250000, 9 },
};
#define GEN_NPRODUCT	(sizeof(gen_products) / sizeof(gen_products[0]))

static const struct gen_medical gen_items[] = {
	{ "0001", "ACETYLSALICYLIC ACID (ASPIRIN) TABS 300MG", "1000 TABLETS",
	    'D', 'B', 1000 },
	{ "0002", "AMOXICILLIN CAPS 250MG", "100 CAPSULES", 'D', 'B', 1500 },
	{ "0003", "PARACETAMOL TABS 500MG", "1000 TABLETS", 'D', 'B', 800 },
	{ "0004", "ARTEMETHER/LUMEFANTRINE TABS 20/120MG", "24 TABLETS",
	    'D', 'B', 2500 },
	{ "0005", "METRONIDAZOLE TABS 200MG", "100 TABLETS", 'D', 'B', 900 },
	{ "0006", "COTRIMOXAZOLE TABS 480MG", "100 TABLETS", 'D', 'B', 1100 },
	{ "0007", "ORAL REHYDRATION SALTS SACHET", "1 SACHET", 'D', 'O', 300 },
	{ "0008", "ZINC SULPHATE DISPERSIBLE TABS 20MG", "10 TABLETS",
	    'D', 'O', 400 },
	{ "0009", "FERROUS SULPHATE TABS 200MG", "100 TABLETS", 'D', 'O', 600 },
	{ "0010", "FOLIC ACID TABS 5MG", "100 TABLETS", 'D', 'O', 500 },
	{ "0011", "IBUPROFEN TABS 200MG", "100 TABLETS", 'D', 'B', 700 },
	{ "0012", "CIPROFLOXACIN TABS 500MG", "10 TABLETS", 'D', 'B', 2000 },
	{ "0013", "DOXYCYCLINE CAPS 100MG", "100 CAPSULES", 'D', 'B', 1800 },
	{ "0014", "METFORMIN TABS 500MG", "100 TABLETS", 'D', 'O', 1200 },
	{ "0015", "AMLODIPINE TABS 5MG", "30 TABLETS", 'D', 'O', 1400 },
	{ "0016", "SALBUTAMOL INHALER 100MCG", "1 INHALER", 'D', 'B', 4500 },
	{ "0017", "GENTAMICIN INJ 40MG/ML 2ML", "1 AMPOULE", 'D', 'I', 350 },
	{ "0018", "CEFTRIAXONE INJ 1G", "1 VIAL", 'D', 'I', 3000 },
	{ "0019", "OXYTOCIN INJ 10IU/ML", "1 AMPOULE", 'D', 'I', 600 },
	{ "0020", "GLOVES EXAMINATION LATEX MEDIUM", "100 PIECES",
	    'M', 'B', 5000 },
	{ "0021", "COTTON WOOL 500G", "1 ROLL", 'M', 'B', 2500 },
	{ "0022", "SYRINGE DISPOSABLE 5ML", "100 PIECES", 'M', 'B', 4000 },
	{ "0023", "GAUZE BANDAGE 10CM", "12 ROLLS", 'M', 'B', 3000 },
	{ "0024", "IV GIVING SET", "1 PIECE", 'M', 'I', 800 },
};
#define GEN_NITEM	(sizeof(gen_items) / sizeof(gen_items[0]))

static const struct gen_medical gen_services[] = {
	{ "A1", "General Outpatient Consultation", NULL, 'C', 'O', 200000 },
	{ "A2", "Specialist Consultation", NULL, 'C', 'O', 500000 },
	{ "B1", "Malaria Rapid Diagnostic Test", NULL, 'C', 'O', 150000 },
	{ "B2", "Full Blood Count", NULL, 'C', 'B', 300000 },
	{ "B3", "Urinalysis", NULL, 'C', 'B', 100000 },
	{ "B4", "HIV Rapid Test", NULL, 'P', 'O', 100000 },
	{ "C1", "Chest X-Ray", NULL, 'C', 'B', 1500000 },
	{ "C2", "Abdominal Ultrasound", NULL, 'C', 'B', 2000000 },
	{ "D1", "Normal Delivery", NULL, 'C', 'I', 4000000 },
	{ "D2", "Caesarean Section", NULL, 'C', 'I', 25000000 },
	{ "E1", "Antenatal Care Visit", NULL, 'P', 'O', 300000 },
	{ "E2", "Child Immunisation Visit", NULL, 'P', 'O', 100000 },
	{ "H1", "Hospital Admission (per day)", NULL, 'C', 'I', 1500000 },
	{ "M1", "OBG Cervical Cerclage", NULL, 'C', 'I', 2100000 },
	{ "S1", "Minor Surgery (Suturing)", NULL, 'C', 'O', 800000 },
	{ "S2", "Incision and Drainage", NULL, 'C', 'O', 600000 },
};
#define GEN_NSERVICE	(sizeof(gen_services) / sizeof(gen_services[0]))

static const struct gen_code gen_diagnoses[] = {
	{ "A09", "Diarrhoea and gastroenteritis" },
	{ "B54", "Unspecified malaria" },
	{ "J06", "Acute upper respiratory infection" },
	{ "J18", "Pneumonia, organism unspecified" },
	{ "N39", "Urinary tract infection" },
	{ "K29", "Gastritis and duodenitis" },
	{ "I10", "Essential (primary) hypertension" },
	{ "E11", "Type 2 diabetes mellitus" },
	{ "O80", "Single spontaneous delivery" },
	{ "Z34", "Supervision of normal pregnancy" },
	{ "L03", "Cellulitis" },
	{ "S01", "Open wound of head" },
	{ "T14", "Injury of unspecified body region" },
	{ "R50", "Fever of other and unknown origin" },
	{ "A01", "Typhoid and paratyphoid fevers" },
	{ "B20", "HIV disease" },
	{ "A15", "Respiratory tuberculosis" },
	{ "H10", "Conjunctivitis" },
	{ "K02", "Dental caries" },
	{ "D50", "Iron deficiency anaemia" },
};
#define GEN_NDIAG	(sizeof(gen_diagnoses) / sizeof(gen_diagnoses[0]))

static const char *const gen_male[] = {
	"John", "Joseph", "Peter", "Emmanuel", "Daniel", "Juma", "Hassan",
	"Baraka", "Amani", "Musa", "Ali", "David", "Paul", "Samuel", "Richard",
	"Francis", "Godfrey", "Hamisi", "Rashidi", "Salim", "Elias", "Michael",
	"Frank", "Idrisa",
};
static const char *const gen_female[] = {
	"Mary", "Grace", "Neema", "Rehema", "Upendo", "Zawadi", "Amina",
	"Fatuma", "Halima", "Agnes", "Esther", "Joyce", "Lucy", "Anna",
	"Elizabeth", "Rose", "Mwanaisha", "Saida", "Asha", "Imani", "Faith",
	"Janeth", "Happiness", "Subira",
};
static const char *const gen_surnames[] = {
	"Mwangi", "Mushi", "Kimaro", "Massawe", "Mollel", "Lyimo", "Swai",
	"Temba", "Mrema", "Shirima", "Ngowi", "Urassa", "Mbwambo", "Kweka",
	"Minja", "Lema", "Mtui", "Njau", "Macha", "Kessy", "Bakari", "Omari",
	"Mwakyusa", "Kalinga", "Mbilinyi", "Odhiambo", "Okello", "Mutua",
	"Kamau", "Otieno", "Mugisha", "Nkya", "Sanga", "Haule", "Komba",
	"Ndunguru", "Chacha", "Marwa", "Mnyampala", "Salehe",
};
static const char *const gen_syllables[] = {
	"ka", "mi", "to", "ra", "jo", "ba", "lu", "nde", "si", "wa", "ta",
	"hi", "da", "ma", "ngo", "ki", "zi", "mbe", "re", "ya", "ku", "so",
	"pe", "li", "tha", "u", "je",
};
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The software a facility submits its claims with (Provenance.entity,
 * role source), by its place in the district: the hospital's own HMIS
 * posting FHIR, the openIMIS Claims mobile app, or the openIMIS web
 * application where a claim administrator types the claim in.
 */
static const struct gen_code gen_sources[GEN_HF_PER] = {
	{ "HMIS", "Hospital HMIS (FHIR client)" },
	{ "CLAIMS-APP", "openIMIS Claims mobile app" },
	{ "WEB", "openIMIS web application" },
	{ "CLAIMS-APP", "openIMIS Claims mobile app" },
};

static const struct gen_code gen_relations[] = {
	{ "0", "" }, { "1", "Brother/Sister" }, { "2", "Father/Mother" },
	{ "3", "Uncle/Aunt" }, { "4", "Son/Daughter" },
	{ "5", "Grand parents" }, { "6", "Employee" }, { "7", "Others" },
	{ "8", "Spouse" },
};
static const struct gen_code gen_educations[] = {
	{ "1", "Nursery" }, { "2", "Primary school" },
	{ "3", "Secondary school" }, { "4", "University" },
	{ "5", "Postgraduate studies" }, { "6", "PHD" }, { "7", "Other" },
};
static const struct gen_code gen_professions[] = {
	{ "1", "Housewife" }, { "2", "Employee" }, { "3", "Self Employed" },
	{ "4", "Others" },
};
static const struct gen_code gen_group_types[] = {
	{ "H", "Household" }, { "C", "Council" }, { "G", "Organization" },
	{ "O", "Other" }, { "P", "Priests" }, { "S", "Students" },
	{ "T", "Teachers" },
};

static uint64_t	mix64(uint64_t);
static void	rng_init(struct gen_rng *, const struct gen *, enum gen_stream,
		    uint64_t);
static uint64_t	rng_next(struct gen_rng *);
static uint32_t	rng_below(struct gen_rng *, uint32_t);
static int	rng_pct(struct gen_rng *, unsigned);
static unsigned	rng_weighted(struct gen_rng *, const unsigned *, unsigned);
static struct gen_uuid	gen_id(const struct gen *, enum gen_kind, uint64_t);
static unsigned	days_in_month(int64_t, unsigned);
static int64_t	year_before(int64_t);
static void	out_flush(struct gen_out *);
static inline void	out_mem(struct gen_out *, const char *, size_t);
static inline void	out_char(struct gen_out *, char);
static void	out_str(struct gen_out *, const char *);
static void	out_jstr(struct gen_out *, const char *);
static void	out_u64(struct gen_out *, uint64_t);
static void	out_pad(struct gen_out *, uint64_t, size_t);
static void	out_money(struct gen_out *, int64_t);
static void	out_date_raw(struct gen_out *, int64_t);
static void	out_date(struct gen_out *, int64_t);
static void	out_instant(struct gen_out *, int64_t);
static void	out_uuid(struct gen_out *, const struct gen_uuid *);
static void	out_ref(struct gen_out *, const char *,
		    const struct gen_uuid *);
static void	out_head(struct gen_out *, const char *,
		    const struct gen_uuid *, int64_t);
static void	out_end(struct gen_out *);
static void	out_ident_uuid(struct gen_out *, const struct gen_uuid *);
static void	out_ident(struct gen_out *, const char *, const char *);
static void	out_code_display(struct gen_out *, const char *, const char *);
static void	out_money_obj(struct gen_out *, int64_t);
static void	out_address(struct gen_out *, const struct gen *, int,
		    const char *, const char *);
static void	out_phone(struct gen_out *, const char *);
static void	out_email(struct gen_out *, const char *, const char *,
		    unsigned);
static void	out_name(struct gen_out *, const char *, const char *);
static int64_t	gen_updated(const struct gen *, struct gen_rng *, int64_t);
static void	gen_fmt(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	gen_phone(struct gen_rng *, char *, size_t);
static void	gen_place_name(struct gen_rng *, char *, size_t);
static void	gen_person(const struct gen *, struct gen_rng *,
		    struct gen_person *);
static void	gen_world(struct gen *);
static void	write_location(struct gen *, struct gen_out *,
		    const struct gen_loc *);
static void	write_hf(struct gen *, struct gen_out *, const struct gen_hf *);
static void	write_insurer(struct gen *, struct gen_out *);
static void	write_practitioner(struct gen_out *, const struct gen_person *);
static void	write_product(struct gen *, struct gen_out *, int);
static void	write_medication(struct gen *, struct gen_out *, int);
static void	write_activity(struct gen *, struct gen_out *, int);
static void	gen_family(const struct gen *, uint64_t, struct gen_family *);
static uint64_t	gen_chfid(uint64_t, unsigned);
static void	gen_members(const struct gen *, const struct gen_family *,
		    struct gen_rng *, struct gen_member *);
static const char	*marital_display(char);
static void	write_patient(struct gen *, struct gen_out *,
		    const struct gen_family *, const struct gen_member *,
		    unsigned, const char *, const char *, struct gen_rng *);
static void	write_group(struct gen *, struct gen_out *,
		    const struct gen_family *, const char *, const char *,
		    struct gen_rng *);
static void	write_coverage(struct gen *, struct gen_out *,
		    const struct gen_family *, struct gen_rng *);
static void	gen_part_insurees(struct gen *);
static void	out_claim_code(struct gen_out *, uint64_t);
static void	out_visit_type(struct gen_out *, char);
static void	write_claim(struct gen *, struct gen_out *,
		    const struct gen_claim *, const struct gen_uuid *,
		    int64_t);
static const char	*reason_display(int);
static void	out_status_category(struct gen_out *, const char *);
static void	write_claim_response(struct gen *, struct gen_out *,
		    const struct gen_claim *, struct gen_rng *);
static void	out_provenance(struct gen *, struct gen_out *,
		    const struct gen_claim *, uint64_t, int64_t, int, int,
		    struct gen_rng *);
static void	write_provenance(struct gen *, struct gen_out *,
		    const struct gen_claim *, uint64_t, int64_t);
static void	gen_claim(struct gen *, const struct gen_family *, unsigned,
		    unsigned, uint64_t, struct gen_rng *, struct gen_claim *);
static void	gen_part_claims(struct gen *);
static int	gen_open(struct gen *, enum gen_type);
static int	gen_close(struct gen *, enum gen_type);
static void	gen_discard(struct gen *);
static int	gen_mkdirs(const char *);
static int	gen_write_tables(struct gen *);
static int	gen_run_insurees(struct gen *);
static int	gen_run_claims(struct gen *);
static int	gen_run(struct gen *, struct gen_stats *);
static void	gen_summary(const struct gen_stats *, double);
static void	gen_usage(FILE *);
static int	gen_usage_error(const char *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	gen_parse_args(struct gen *, int, char **);

/* Hashing, PRNG, ids. */

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void
rng_init(struct gen_rng *r, const struct gen *g, enum gen_stream s,
    uint64_t idx)
{
	r->r_state = mix64(g->g_key ^ mix64(((uint64_t)s << 56) ^ idx));
}

static uint64_t
rng_next(struct gen_rng *r)
{
	r->r_state += UINT64_C(0x9e3779b97f4a7c15);
	return mix64(r->r_state);
}

/* Uniform in [0, n), n < 2^32. */
static uint32_t
rng_below(struct gen_rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static int
rng_pct(struct gen_rng *r, unsigned pct)
{
	return rng_below(r, 100) < pct;
}

/* Picks an index by weights (which need not sum to anything). */
static unsigned
rng_weighted(struct gen_rng *r, const unsigned *w, unsigned n)
{
	unsigned	 i, total = 0, x;

	for (i = 0; i < n; i++)
		total += w[i];
	x = rng_below(r, total);
	for (i = 0; i < n - 1; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

/*
 * A version-4-shaped UUID from (seed, kind, idx).  mix64 is a bijection,
 * so distinct (kind, idx < 2^48) give distinct high halves.
 */
static struct gen_uuid
gen_id(const struct gen *g, enum gen_kind k, uint64_t idx)
{
	struct gen_uuid	 u;

	u.u_hi = mix64(g->g_key ^ (((uint64_t)k << 48) | idx));
	u.u_lo = mix64(u.u_hi ^ UINT64_C(0x5851f42d4c957f2d));
	u.u_hi = (u.u_hi & ~UINT64_C(0xf000)) | UINT64_C(0x4000);
	u.u_lo = (u.u_lo & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);
	return u;
}

/* Dates: days since 1970-01-01 (H. Hinnant's civil calendar algorithms). */

static unsigned
days_in_month(int64_t y, unsigned m)
{
	return civil_mdays(y, m);
}

/* The first day of a one-year period ending on 'end' (ExpiryDate). */
static int64_t
year_before(int64_t end)
{
	int64_t		 y;
	unsigned	 m, d, dim;

	civil_from_days(end, &y, &m, &d);
	dim = days_in_month(y - 1, m);
	return civil_days_from(y - 1, m, d > dim ? dim : d) + 1;
}

int
generate_parse_date(const char *s, int64_t *days)
{
	static const int	 digit_at[10] = {
		1, 1, 1, 1, 0, 1, 1, 0, 1, 1
	};
	int64_t			 y;
	unsigned		 m, d;
	int			 i;

	if (strlen(s) != 10)
		return -1;
	for (i = 0; i < 10; i++) {
		if (digit_at[i] ? s[i] < '0' || s[i] > '9' : s[i] != '-')
			return -1;
	}
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 +
	    (s[3] - '0');
	m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	if (y < 1971 || y > 9000 || m < 1 || m > 12 || d < 1 ||
	    d > days_in_month(y, m))
		return -1;
	*days = civil_days_from(y, m, d);
	return 0;
}

void
generate_format_date(int64_t days, char *dst, size_t size)
{
	int64_t		 y;
	unsigned	 m, d;

	civil_from_days(days, &y, &m, &d);
	(void)snprintf(dst, size, "%04" PRId64 "-%02u-%02u", y, m, d);
}

/* Output: hand-formatted JSON into a per-file buffer. */

static void
out_flush(struct gen_out *o)
{
	if (o->o_len > 0 && o->o_errno == 0) {
		errno = 0;
		if (fwrite(o->o_buf, 1, o->o_len, o->o_fp) != o->o_len)
			o->o_errno = errno != 0 ? errno : EIO;
	}
	o->o_bytes += o->o_len;
	o->o_len = 0;
}

static inline void
out_mem(struct gen_out *o, const char *s, size_t n)
{
	size_t	 room;

	while (n > GEN_OUTBUF - o->o_len) {
		room = GEN_OUTBUF - o->o_len;
		memcpy(o->o_buf + o->o_len, s, room);
		o->o_len += room;
		s += room;
		n -= room;
		out_flush(o);
	}
	memcpy(o->o_buf + o->o_len, s, n);
	o->o_len += n;
}

static inline void
out_char(struct gen_out *o, char c)
{
	if (o->o_len == GEN_OUTBUF)
		out_flush(o);
	o->o_buf[o->o_len++] = c;
}

static void
out_str(struct gen_out *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

/* s as a JSON string, quotes included, escaped per RFC 8259. */
static void
out_jstr(struct gen_out *o, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	const char		*run;
	unsigned char		 c;
	char			 esc[6];

	out_char(o, '"');
	for (run = s; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		out_mem(o, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '"':
			OUT_LIT(o, "\\\"");
			break;
		case '\\':
			OUT_LIT(o, "\\\\");
			break;
		case '\n':
			OUT_LIT(o, "\\n");
			break;
		case '\r':
			OUT_LIT(o, "\\r");
			break;
		case '\t':
			OUT_LIT(o, "\\t");
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			out_mem(o, esc, sizeof(esc));
			break;
		}
	}
	out_mem(o, run, (size_t)(s - run));
	out_char(o, '"');
}

static void
out_u64(struct gen_out *o, uint64_t v)
{
	char	 tmp[20];
	size_t	 i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	out_mem(o, tmp + i, sizeof(tmp) - i);
}

/* v as exactly 'width' digits (width <= 20; v must fit). */
static void
out_pad(struct gen_out *o, uint64_t v, size_t width)
{
	char	 tmp[20];
	size_t	 i;

	for (i = width; i > 0; i--) {
		tmp[i - 1] = (char)('0' + v % 10);
		v /= 10;
	}
	out_mem(o, tmp, width);
}

/* An amount in cents (>= 0) as the shortest JSON number: 12, 3.5, 0.05. */
static void
out_money(struct gen_out *o, int64_t cents)
{
	out_u64(o, (uint64_t)(cents / 100));
	if (cents % 10 != 0) {
		out_char(o, '.');
		out_pad(o, (uint64_t)(cents % 100), 2);
	} else if (cents % 100 != 0) {
		out_char(o, '.');
		out_pad(o, (uint64_t)(cents % 100 / 10), 1);
	}
}

static void
out_date_raw(struct gen_out *o, int64_t days)
{
	int64_t		 y;
	unsigned	 m, d;
	char		 b[10];

	civil_from_days(days, &y, &m, &d);
	b[0] = (char)('0' + y / 1000 % 10);
	b[1] = (char)('0' + y / 100 % 10);
	b[2] = (char)('0' + y / 10 % 10);
	b[3] = (char)('0' + y % 10);
	b[4] = '-';
	b[5] = (char)('0' + m / 10);
	b[6] = (char)('0' + m % 10);
	b[7] = '-';
	b[8] = (char)('0' + d / 10);
	b[9] = (char)('0' + d % 10);
	out_mem(o, b, sizeof(b));
}

/* "YYYY-MM-DD", quotes included. */
static void
out_date(struct gen_out *o, int64_t days)
{
	out_char(o, '"');
	out_date_raw(o, days);
	out_char(o, '"');
}

/* An RFC 3339 instant in UTC, quotes included. */
static void
out_instant(struct gen_out *o, int64_t secs)
{
	int64_t		 days = secs / 86400, rem = secs % 86400;
	char		 b[10];

	out_char(o, '"');
	out_date_raw(o, days);
	b[0] = 'T';
	b[1] = (char)('0' + rem / 36000);
	b[2] = (char)('0' + rem / 3600 % 10);
	b[3] = ':';
	b[4] = (char)('0' + rem % 3600 / 600);
	b[5] = (char)('0' + rem % 600 / 60);
	b[6] = ':';
	b[7] = (char)('0' + rem % 60 / 10);
	b[8] = (char)('0' + rem % 10);
	b[9] = 'Z';
	out_mem(o, b, sizeof(b));
	out_char(o, '"');
}

static void
out_uuid(struct gen_out *o, const struct gen_uuid *u)
{
	static const char	 hex[] = "0123456789abcdef";
	char			 b[36];
	int			 i, j = 0;

	for (i = 60; i >= 0; i -= 4) {
		if (j == 8 || j == 13 || j == 18)
			b[j++] = '-';
		b[j++] = hex[(u->u_hi >> i) & 0xf];
	}
	for (i = 60; i >= 0; i -= 4) {
		if (j == 18 || j == 23)
			b[j++] = '-';
		b[j++] = hex[(u->u_lo >> i) & 0xf];
	}
	out_mem(o, b, sizeof(b));
}

/* {"reference":"<Type>/<uuid>"} with 'type' given as "Type/". */
static void
out_ref(struct gen_out *o, const char *type, const struct gen_uuid *u)
{
	OUT_LIT(o, "{\"reference\":\"");
	out_str(o, type);
	out_uuid(o, u);
	OUT_LIT(o, "\"}");
}

/* {"resourceType":"T","id":"…","meta":{"lastUpdated":"…"} (left open). */
static void
out_head(struct gen_out *o, const char *type, const struct gen_uuid *id,
    int64_t updated)
{
	OUT_LIT(o, "{\"resourceType\":\"");
	out_str(o, type);
	OUT_LIT(o, "\",\"id\":\"");
	out_uuid(o, id);
	OUT_LIT(o, "\",\"meta\":{\"lastUpdated\":");
	out_instant(o, updated);
	out_char(o, '}');
}

static void
out_end(struct gen_out *o)
{
	OUT_LIT(o, "}\n");
	o->o_count++;
}

static void
out_ident_uuid(struct gen_out *o, const struct gen_uuid *u)
{
	OUT_LIT(o, ID_TYPE("UUID"));
	out_uuid(o, u);
	OUT_LIT(o, "\"}");
}

/* An identifier of type 'code' (UUID, Code, LC, ACSN, MR) with a value. */
static void
out_ident(struct gen_out *o, const char *code, const char *value)
{
	OUT_LIT(o, "{\"type\":{\"coding\":[{\"system\":\"" IG_CS
	    "openimis-identifiers\",\"code\":\"");
	out_str(o, code);
	OUT_LIT(o, "\"}]},\"use\":\"usual\",\"value\":");
	out_jstr(o, value);
	out_char(o, '}');
}

/* "code":"…","display":"…"}]} closing a CODING(…) opener. */
static void
out_code_display(struct gen_out *o, const char *code, const char *display)
{
	out_str(o, code);
	OUT_LIT(o, "\",\"display\":");
	out_jstr(o, display);
	OUT_LIT(o, "}]}");
}

static void
out_money_obj(struct gen_out *o, int64_t cents)
{
	OUT_LIT(o, "{\"value\":");
	out_money(o, cents);
	OUT_LIT(o, ",\"currency\":\"" GEN_CURRENCY "\"}");
}

/* The two address extensions every openIMIS address carries (A1.4). */
static void
out_address(struct gen_out *o, const struct gen *g, int village,
    const char *use, const char *text)
{
	const struct gen_loc	*v = &g->g_loc[village];
	const struct gen_loc	*w = &g->g_loc[v->l_parent];
	const struct gen_loc	*d = &g->g_loc[w->l_parent];
	const struct gen_loc	*r = &g->g_loc[d->l_parent];

	OUT_LIT(o, "{\"extension\":[{\"url\":\"" IG_SD
	    "address-municipality\",\"valueString\":");
	out_jstr(o, w->l_name);
	OUT_LIT(o, "},{\"url\":\"" IG_SD
	    "address-location-reference\",\"valueReference\":");
	out_ref(o, "Location/", &v->l_id);
	OUT_LIT(o, "}],\"use\":\"");
	out_str(o, use);
	OUT_LIT(o, "\",\"type\":\"physical\",\"text\":");
	out_jstr(o, text);
	OUT_LIT(o, ",\"city\":");
	out_jstr(o, v->l_name);
	OUT_LIT(o, ",\"district\":");
	out_jstr(o, d->l_name);
	OUT_LIT(o, ",\"state\":");
	out_jstr(o, r->l_name);
	out_char(o, '}');
}

static void
out_phone(struct gen_out *o, const char *phone)
{
	OUT_LIT(o, "{\"system\":\"phone\",\"use\":\"home\",\"value\":");
	out_jstr(o, phone);
	out_char(o, '}');
}

static void
out_email(struct gen_out *o, const char *given, const char *family,
    unsigned n)
{
	char		 b[96];
	size_t		 i, len;

	len = (size_t)snprintf(b, sizeof(b), "%s.%s%u@example.org", given,
	    family, n);
	if (len >= sizeof(b))
		len = sizeof(b) - 1;	/* table names are short */
	for (i = 0; i < len; i++) {
		if (b[i] >= 'A' && b[i] <= 'Z')
			b[i] = (char)(b[i] - 'A' + 'a');
	}
	OUT_LIT(o, "{\"system\":\"email\",\"use\":\"home\",\"value\":");
	b[len] = '\0';
	out_jstr(o, b);
	out_char(o, '}');
}

static void
out_name(struct gen_out *o, const char *family, const char *given)
{
	OUT_LIT(o, "{\"use\":\"usual\",\"family\":");
	out_jstr(o, family);
	OUT_LIT(o, ",\"given\":[");
	out_jstr(o, given);
	OUT_LIT(o, "]}");
}

/* Random helpers shared by the tables and the families. */

/* An instant within [max(notbefore, today-365), today) in seconds. */
static int64_t
gen_updated(const struct gen *g, struct gen_rng *r, int64_t notbefore)
{
	int64_t		 lo = (g->g_today - 365) * 86400;
	int64_t		 hi = g->g_today * 86400;

	if (notbefore > g->g_today - 1)
		notbefore = g->g_today - 1;
	if (notbefore * 86400 > lo)
		lo = notbefore * 86400;
	return lo + rng_below(r, (uint32_t)(hi - lo));
}

/*
 * snprintf for the table fields: formats into a local buffer first, as
 * the arguments often live in the same struct gen as the destination.
 * Every field is sized for its contents; a (bug) overflow truncates.
 */
static void
gen_fmt(char *dst, size_t size, const char *fmt, ...)
{
	char	 b[128];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	str_lcpy(dst, b, size);
}

static void
gen_phone(struct gen_rng *r, char *dst, size_t size)
{
	(void)snprintf(dst, size, "07%08" PRIu32, rng_below(r, 100000000));
}

static void
gen_place_name(struct gen_rng *r, char *dst, size_t size)
{
	unsigned	 n = 2 + rng_below(r, 2), i;

	dst[0] = '\0';
	for (i = 0; i < n; i++) {
		const char	*syl = gen_syllables[rng_below(r,
		    NELEM(gen_syllables))];
		size_t		 len = strlen(dst);

		if (len + strlen(syl) + 1 > size)
			break;
		memcpy(dst + len, syl, strlen(syl) + 1);
	}
	if (dst[0] >= 'a' && dst[0] <= 'z')
		dst[0] = (char)(dst[0] - 'a' + 'A');
}

static void
gen_person(const struct gen *g, struct gen_rng *r, struct gen_person *p)
{
	p->p_gender = rng_pct(r, 60) ? 'M' : 'F';
	p->p_given = p->p_gender == 'M' ?
	    gen_male[rng_below(r, NELEM(gen_male))] :
	    gen_female[rng_below(r, NELEM(gen_female))];
	p->p_family = gen_surnames[rng_below(r, NELEM(gen_surnames))];
	p->p_birth = g->g_today - 365 * (23 + (int64_t)rng_below(r, 35)) -
	    rng_below(r, 365);
	gen_phone(r, p->p_phone, sizeof(p->p_phone));
	p->p_updated = gen_updated(g, r, 0);
}

/* The reference tables: locations, facilities, practitioners, timestamps. */
static void
gen_world(struct gen *g)
{
	static const char *const	 tags[GEN_HF_PER] = {
		"HOS", "HCT", "HCT", "DSP"
	};
	static const char		 levels[GEN_HF_PER] = {
		'H', 'C', 'C', 'D'
	};
	struct gen_rng			 r;
	struct gen_loc			*l;
	struct gen_hf			*h;
	char				 level;
	int				 i, n, base, nadmin = 0;

	rng_init(&r, g, GS_WORLD, 0);
	for (i = 0; i < GEN_NLOC; i++) {
		l = &g->g_loc[i];
		l->l_id = gen_id(g, GK_LOCATION, (uint64_t)i);
		gen_place_name(&r, l->l_name, sizeof(l->l_name));
		l->l_updated = gen_updated(g, &r, 0);
		if (i < GEN_NREGION) {
			l->l_type = 'R';
			l->l_parent = -1;
			gen_fmt(l->l_code, sizeof(l->l_code), "R%d",
			    i + 1);
			continue;
		}
		if (i < GEN_NREGION + GEN_NDISTRICT) {
			base = i - GEN_NREGION;
			l->l_type = 'D';
			l->l_parent = base / GEN_DISTRICTS_PER;
			level = 'D';
			n = base % GEN_DISTRICTS_PER + 1;
		} else if (i < GEN_NREGION + GEN_NDISTRICT + GEN_NWARD) {
			base = i - GEN_NREGION - GEN_NDISTRICT;
			l->l_type = 'W';
			l->l_parent = GEN_NREGION + base / GEN_WARDS_PER;
			level = 'M';
			n = base % GEN_WARDS_PER + 1;
		} else {
			base = i - GEN_NREGION - GEN_NDISTRICT - GEN_NWARD;
			l->l_type = 'V';
			l->l_parent = GEN_NREGION + GEN_NDISTRICT +
			    base / GEN_VILLAGES_PER;
			level = 'V';
			n = base % GEN_VILLAGES_PER + 1;
		}
		/* The parent's code, then the level letter and number. */
		gen_fmt(l->l_code, sizeof(l->l_code), "%s%c%d",
		    g->g_loc[l->l_parent].l_code, level, n);
	}

	for (i = 0; i < GEN_NHF; i++) {
		int		 kind = i % GEN_HF_PER;
		int		 district = GEN_NREGION + i / GEN_HF_PER;
		/* This district's wards and villages, for the HF's name. */
		int		 ward = GEN_NREGION + GEN_NDISTRICT +
				    (i / GEN_HF_PER) * GEN_WARDS_PER + kind;
		int		 village = GEN_NREGION + GEN_NDISTRICT +
				    GEN_NWARD + (ward - GEN_NREGION -
				    GEN_NDISTRICT) * GEN_VILLAGES_PER;
		const char	*dn = g->g_loc[district].l_name;

		h = &g->g_hf[i];
		h->h_id = gen_id(g, GK_HF, (uint64_t)i);
		h->h_district = district;
		h->h_level = levels[kind];
		gen_fmt(h->h_code, sizeof(h->h_code), "%c%c%s%03d",
		    dn[0], dn[1] >= 'a' && dn[1] <= 'z' ? dn[1] - 'a' + 'A' :
		    'X', tags[kind], (i + 1) % 1000);
		switch (kind) {
		case 0:
			gen_fmt(h->h_name, sizeof(h->h_name),
			    "%s District Hospital", dn);
			h->h_care = 'B';
			h->h_legal = 'G';
			break;
		case 3:
			gen_fmt(h->h_name, sizeof(h->h_name),
			    "%s Dispensary", g->g_loc[village].l_name);
			h->h_care = 'O';
			h->h_legal = rng_pct(&r, 50) ? 'P' : 'C';
			break;
		default:
			gen_fmt(h->h_name, sizeof(h->h_name),
			    "%s Health Centre", g->g_loc[ward].l_name);
			h->h_care = rng_pct(&r, 70) ? 'O' : 'B';
			h->h_legal = rng_pct(&r, 70) ? 'D' : 'C';
			break;
		}
		gen_phone(&r, h->h_phone, sizeof(h->h_phone));
		h->h_updated = gen_updated(g, &r, 0);
		h->h_admin = nadmin;
		h->h_nadmin = kind == 0 ? 2 : 1;
		for (base = 0; base < h->h_nadmin; base++, nadmin++) {
			struct gen_person	*p = &g->g_admin[nadmin];

			gen_person(g, &r, p);
			p->p_id = gen_id(g, GK_ADMIN, (uint64_t)nadmin);
			p->p_hf = i;
			p->p_district = -1;
			gen_fmt(p->p_code, sizeof(p->p_code),
			    "%.4s%04u", h->h_code,
			    (unsigned)(nadmin + 1) % 10000);
		}
	}

	for (i = 0; i < GEN_NOFFICER; i++) {
		struct gen_person	*p = &g->g_officer[i];

		gen_person(g, &r, p);
		p->p_id = gen_id(g, GK_OFFICER, (uint64_t)i);
		p->p_hf = -1;
		p->p_district = GEN_NREGION + i / GEN_OFFICERS_PER;
		gen_fmt(p->p_code, sizeof(p->p_code), "E%05d", i + 1);
	}

	for (i = 0; i < (int)GEN_NPRODUCT; i++)
		g->g_product_updated[i] = gen_updated(g, &r, 0);
	for (i = 0; i < (int)GEN_NITEM; i++)
		g->g_item_updated[i] = gen_updated(g, &r, 0);
	for (i = 0; i < (int)GEN_NSERVICE; i++)
		g->g_service_updated[i] = gen_updated(g, &r, 0);
	g->g_insurer_updated = gen_updated(g, &r, 0);
}

/* Reference-table writers. */

static void
write_location(struct gen *g, struct gen_out *o, const struct gen_loc *l)
{
	static const char *const	 names[] = {
		"Region", "District", "Municipality/Ward", "Village"
	};
	const char			*disp;
	char				 code[2] = { l->l_type, '\0' };

	disp = names[l->l_type == 'R' ? 0 : l->l_type == 'D' ? 1 :
	    l->l_type == 'W' ? 2 : 3];
	out_head(o, "Location", &l->l_id, l->l_updated);
	OUT_LIT(o, ",\"identifier\":[");
	out_ident_uuid(o, &l->l_id);
	out_char(o, ',');
	out_ident(o, "LC", l->l_code);
	OUT_LIT(o, "],\"status\":\"active\",\"name\":");
	out_jstr(o, l->l_name);
	OUT_LIT(o, ",\"mode\":\"instance\",\"type\":[" CODING(IG_CS
	    "location-type"));
	out_code_display(o, code, disp);
	OUT_LIT(o, "],\"physicalType\":" CODING(IG_CS "location-type"));
	out_code_display(o, code, disp);
	if (l->l_parent >= 0) {
		OUT_LIT(o, ",\"partOf\":");
		out_ref(o, "Location/", &g->g_loc[l->l_parent].l_id);
	}
	out_end(o);
}

static void
write_hf(struct gen *g, struct gen_out *o, const struct gen_hf *h)
{
	const struct gen_loc	*d = &g->g_loc[h->h_district];
	const char		*legal, *level, *care;
	char			 c[2] = { '\0', '\0' };
	char			 email[32];
	size_t			 i;
	int			 a;

	legal = h->h_legal == 'C' ? "Charity" : h->h_legal == 'D' ?
	    "District Organization" : h->h_legal == 'G' ? "Government" :
	    "Private organization";
	level = h->h_level == 'H' ? "Hospital" : h->h_level == 'C' ?
	    "Health Centre" : "Dispensary";
	care = h->h_care == 'I' ? "In-patient" : h->h_care == 'O' ?
	    "Out-patient" : "Both";

	out_head(o, "Organization", &h->h_id, h->h_updated);
	OUT_LIT(o, ",\"extension\":[{\"url\":\"" IG_SD
	    "organization-legal-form\",\"valueCodeableConcept\":"
	    CODING(IG_CS "organization-legal-form"));
	c[0] = h->h_legal;
	out_code_display(o, c, legal);
	OUT_LIT(o, "},{\"url\":\"" IG_SD "organization-hf-level\","
	    "\"valueCodeableConcept\":" CODING(IG_CS "organization-hf-level"));
	c[0] = h->h_level;
	out_code_display(o, c, level);
	OUT_LIT(o, "},{\"url\":\"" IG_SD "organization-hf-care-type\","
	    "\"valueCodeableConcept\":" CODING(IG_CS
	    "organization-hf-care-type"));
	c[0] = h->h_care;
	out_code_display(o, c, care);
	OUT_LIT(o, "}],\"identifier\":[");
	out_ident_uuid(o, &h->h_id);
	out_char(o, ',');
	out_ident(o, "LC", h->h_code);
	OUT_LIT(o, "],\"active\":true,\"type\":[" CODING(
	    "http://terminology.hl7.org/CodeSystem/organization-type")
	    "prov\",\"display\":\"Healthcare Provider\"}]}],\"name\":");
	out_jstr(o, h->h_name);
	OUT_LIT(o, ",\"telecom\":[{\"system\":\"phone\",\"value\":");
	out_jstr(o, h->h_phone);
	(void)snprintf(email, sizeof(email), "%s@example.org", h->h_code);
	for (i = 0; email[i] != '\0'; i++) {
		if (email[i] >= 'A' && email[i] <= 'Z')
			email[i] = (char)(email[i] - 'A' + 'a');
	}
	OUT_LIT(o, "},{\"system\":\"email\",\"value\":");
	out_jstr(o, email);
	OUT_LIT(o, "}],\"address\":[{\"extension\":[{\"url\":\"" IG_SD
	    "address-location-reference\",\"valueReference\":");
	out_ref(o, "Location/", &d->l_id);
	OUT_LIT(o, "}],\"type\":\"physical\",\"line\":[");
	out_jstr(o, h->h_name);
	OUT_LIT(o, "],\"district\":");
	out_jstr(o, d->l_name);
	OUT_LIT(o, ",\"state\":");
	out_jstr(o, g->g_loc[d->l_parent].l_name);
	OUT_LIT(o, "}],\"contact\":[");
	for (a = 0; a < h->h_nadmin; a++) {
		const struct gen_person	*p = &g->g_admin[h->h_admin + a];

		if (a > 0)
			out_char(o, ',');
		OUT_LIT(o, "{\"purpose\":" CODING(
		    "http://terminology.hl7.org/CodeSystem/contactentity-type")
		    "PAYOR\"}]},\"name\":");
		out_name(o, p->p_family, p->p_given);
		out_char(o, '}');
	}
	out_char(o, ']');
	out_end(o);
}

static void
write_insurer(struct gen *g, struct gen_out *o)
{
	struct gen_uuid		 id = gen_id(g, GK_INSURER, 0);
	const struct gen_loc	*r = &g->g_loc[0];

	out_head(o, "Organization", &id, g->g_insurer_updated);
	OUT_LIT(o, ",\"identifier\":[");
	out_ident_uuid(o, &id);
	OUT_LIT(o, ",");
	out_ident(o, "Code", "openIMIS");
	OUT_LIT(o, "],\"active\":true,\"type\":[" CODING(
	    "http://terminology.hl7.org/CodeSystem/organization-type")
	    "ins\",\"display\":\"Insurance Company\"}]}],"
	    "\"name\":\"openIMIS National Health Insurance Scheme\","
	    "\"telecom\":[{\"system\":\"email\",\"value\":"
	    "\"info@insurer.example.org\"},{\"system\":\"phone\","
	    "\"value\":\"0800110000\"}],\"address\":[{\"extension\":"
	    "[{\"url\":\"" IG_SD "address-municipality\",\"valueString\":");
	out_jstr(o, g->g_loc[GEN_NREGION + GEN_NDISTRICT].l_name);
	OUT_LIT(o, "}],\"line\":[\"1 Insurance House\"],\"city\":");
	out_jstr(o, g->g_loc[GEN_NREGION + GEN_NDISTRICT + GEN_NWARD].l_name);
	OUT_LIT(o, ",\"district\":");
	out_jstr(o, g->g_loc[GEN_NREGION].l_name);
	OUT_LIT(o, ",\"state\":");
	out_jstr(o, r->l_name);
	OUT_LIT(o, "}],\"contact\":[{\"purpose\":" CODING(
	    "http://terminology.hl7.org/CodeSystem/contactentity-type")
	    "ADMIN\",\"display\":\"Administrative\"}]},"
	    "\"name\":{\"text\":\"Scheme Manager\"}}]");
	out_end(o);
}

static void
write_practitioner(struct gen_out *o, const struct gen_person *p)
{
	out_head(o, "Practitioner", &p->p_id, p->p_updated);
	OUT_LIT(o, ",\"identifier\":[");
	out_ident_uuid(o, &p->p_id);
	out_char(o, ',');
	out_ident(o, "Code", p->p_code);
	OUT_LIT(o, "],\"name\":[");
	out_name(o, p->p_family, p->p_given);
	OUT_LIT(o, "],\"telecom\":[");
	out_phone(o, p->p_phone);
	OUT_LIT(o, "],\"gender\":");
	if (p->p_gender == 'M')
		OUT_LIT(o, "\"male\"");
	else
		OUT_LIT(o, "\"female\"");
	OUT_LIT(o, ",\"birthDate\":");
	out_date(o, p->p_birth);
	OUT_LIT(o, ",\"qualification\":[{\"code\":" CODING(IG_CS
	    "practitioner-qualification-type"));
	if (p->p_hf >= 0)
		OUT_LIT(o, "CA\",\"display\":\"Claim Administrator\"}]}}]");
	else
		OUT_LIT(o, "EO\",\"display\":\"Enrolment Officer\"}]}}]");
	out_end(o);
}

static void
write_product(struct gen *g, struct gen_out *o, int i)
{
	const struct gen_product	*p = &gen_products[i];
	struct gen_uuid			 id = gen_id(g, GK_PRODUCT,
					    (uint64_t)i);
	int64_t				 y;
	unsigned			 m, d;

	civil_from_days(g->g_today, &y, &m, &d);
	out_head(o, "InsurancePlan", &id, g->g_product_updated[i]);
	OUT_LIT(o, ",\"identifier\":[");
	out_ident_uuid(o, &id);
	out_char(o, ',');
	out_ident(o, "Code", p->pr_code);
	OUT_LIT(o, "],\"status\":\"active\",\"type\":[" CODING(
	    "http://terminology.hl7.org/CodeSystem/insurance-plan-type")
	    "medical\",\"display\":\"Medical\"}]}],\"name\":");
	out_jstr(o, p->pr_name);
	OUT_LIT(o, ",\"period\":{\"start\":");
	out_date(o, civil_days_from(y - 8, 1, 1));
	OUT_LIT(o, ",\"end\":");
	out_date(o, civil_days_from(y + 5, 12, 31));
	out_char(o, '}');
	if (p->pr_region >= 0) {
		OUT_LIT(o, ",\"coverageArea\":[");
		out_ref(o, "Location/", &g->g_loc[p->pr_region].l_id);
		out_char(o, ']');
	}
	OUT_LIT(o, ",\"coverage\":[{\"type\":" CODING(
	    "http://terminology.hl7.org/CodeSystem/insurance-plan-type")
	    "medical\",\"display\":\"Medical\"}]},\"benefit\":[{\"type\":"
	    CODING("http://terminology.hl7.org/CodeSystem/insurance-plan-type")
	    "medical\",\"display\":\"Medical\"}]},\"limit\":["
	    "{\"value\":{\"value\":12,\"unit\":\"month\"},\"code\":" CODING(
	    IG_CS "insurance-plan-coverage-benefit-limit")
	    "period\",\"display\":\"Period\"}]}},{\"value\":{\"value\":");
	out_u64(o, p->pr_members);
	OUT_LIT(o, ",\"unit\":\"member\"},\"code\":" CODING(IG_CS
	    "insurance-plan-coverage-benefit-limit")
	    "memberCount\",\"display\":\"Member Count\"}]}}]}]}],"
	    "\"plan\":[{\"generalCost\":[{\"type\":" CODING(IG_CS
	    "insurance-plan-general-cost-type")
	    "lumpsum\",\"display\":\"Lumpsum\"}]},\"cost\":");
	out_money_obj(o, p->pr_lumpsum);
	out_char(o, '}');
	if (p->pr_adult > 0) {
		OUT_LIT(o, ",{\"type\":" CODING(IG_CS
		    "insurance-plan-general-cost-type")
		    "premiumAdult\",\"display\":\"Premium Adult\"}]},"
		    "\"cost\":");
		out_money_obj(o, p->pr_adult);
		out_char(o, '}');
	}
	if (p->pr_child > 0) {
		OUT_LIT(o, ",{\"type\":" CODING(IG_CS
		    "insurance-plan-general-cost-type")
		    "premiumChild\",\"display\":\"Premium Child\"}]},"
		    "\"cost\":");
		out_money_obj(o, p->pr_child);
		out_char(o, '}');
	}
	OUT_LIT(o, "]}],\"extension\":[{\"url\":\"" IG_SD
	    "insurance-plan-max-installments\",\"valueUnsignedInt\":3}]");
	out_end(o);
}

static void
write_medication(struct gen *g, struct gen_out *o, int i)
{
	const struct gen_medical	*m = &gen_items[i];
	struct gen_uuid			 id = gen_id(g, GK_ITEM, (uint64_t)i);
	char				 c[2] = { m->m_type, '\0' };
	uint64_t			 amount = 0;
	const char			*p;

	for (p = m->m_pkg; *p >= '0' && *p <= '9'; p++)
		amount = amount * 10 + (uint64_t)(*p - '0');
	out_head(o, "Medication", &id, g->g_item_updated[i]);
	OUT_LIT(o, ",\"identifier\":[");
	out_ident_uuid(o, &id);
	out_char(o, ',');
	out_ident(o, "Code", m->m_code);
	OUT_LIT(o, "],\"code\":{\"text\":");
	out_jstr(o, m->m_name);
	OUT_LIT(o, "},\"status\":\"active\",\"form\":{\"text\":");
	out_jstr(o, m->m_pkg);
	OUT_LIT(o, "},\"amount\":{\"numerator\":{\"value\":");
	out_u64(o, amount);
	OUT_LIT(o, "}},\"extension\":[{\"url\":\"" IG_SD "unit-price\","
	    "\"valueMoney\":");
	out_money_obj(o, m->m_price);
	OUT_LIT(o, "},{\"url\":\"" IG_SD "medication-type\","
	    "\"valueCodeableConcept\":" CODING(IG_CS "medication-item-type"));
	out_code_display(o, c, m->m_type == 'D' ? "Drug" :
	    "Medical Consumable");
	OUT_LIT(o, "},{\"url\":\"" IG_SD "medication-frequency\","
	    "\"valueTiming\":{\"repeat\":{\"frequency\":1,\"period\":");
	out_u64(o, m->m_care == 'I' ? 1 : 7);
	OUT_LIT(o, ",\"periodUnit\":\"d\"}}}]");
	out_end(o);
}

static void
write_activity(struct gen *g, struct gen_out *o, int i)
{
	const struct gen_medical	*s = &gen_services[i];
	struct gen_uuid			 id = gen_id(g, GK_SERVICE,
					    (uint64_t)i);
	char				 c[2] = { s->m_type, '\0' };

	out_head(o, "ActivityDefinition", &id, g->g_service_updated[i]);
	OUT_LIT(o, ",\"status\":\"active\",\"identifier\":[");
	out_ident_uuid(o, &id);
	out_char(o, ',');
	out_ident(o, "Code", s->m_code);
	OUT_LIT(o, "],\"date\":");
	out_date(o, g->g_today - 3 * 365);
	OUT_LIT(o, ",\"name\":");
	out_jstr(o, s->m_code);
	OUT_LIT(o, ",\"title\":");
	out_jstr(o, s->m_name);
	OUT_LIT(o, ",\"useContext\":[{\"code\":{\"system\":"
	    "\"http://terminology.hl7.org/CodeSystem/usage-context-type\","
	    "\"code\":\"venue\",\"display\":\"Clinical Venue\"},"
	    "\"valueCodeableConcept\":{\"coding\":[");
	if (s->m_care != 'I')
		OUT_LIT(o, "{\"system\":"
		    "\"http://terminology.hl7.org/CodeSystem/v3-ActCode\","
		    "\"code\":\"AMB\",\"display\":\"ambulatory\"}");
	if (s->m_care == 'B')
		out_char(o, ',');
	if (s->m_care != 'O')
		OUT_LIT(o, "{\"system\":"
		    "\"http://terminology.hl7.org/CodeSystem/v3-ActCode\","
		    "\"code\":\"IMP\",\"display\":\"inpatient encounter\"}");
	OUT_LIT(o, "]}}],\"topic\":[" CODING(IG_CS
	    "activity-definition-service-type"));
	out_code_display(o, c, s->m_type == 'P' ? "Preventive" : "Curative");
	OUT_LIT(o, "],\"extension\":[{\"url\":\"" IG_SD "unit-price\","
	    "\"valueMoney\":");
	out_money_obj(o, s->m_price);
	OUT_LIT(o, "}]");
	out_end(o);
}

/* Families. */

static void
gen_family(const struct gen *g, uint64_t fi, struct gen_family *f)
{
	static const unsigned	 sizes[GEN_MAX_MEMBERS] = {
		6, 10, 15, 19, 18, 13, 9, 6, 4
	};
	static const unsigned	 hfw[GEN_HF_PER] = { 15, 35, 35, 15 };
	struct gen_rng		 r;
	int			 region;

	rng_init(&r, g, GS_FAMILY, fi);
	f->f_index = fi;
	f->f_nmem = 1 + rng_weighted(&r, sizes, GEN_MAX_MEMBERS);
	f->f_village = GEN_NREGION + GEN_NDISTRICT + GEN_NWARD +
	    (int)rng_below(&r, GEN_NVILLAGE);
	f->f_district = g->g_loc[g->g_loc[f->f_village].l_parent].l_parent;
	region = g->g_loc[f->f_district].l_parent;
	f->f_hf = (f->f_district - GEN_NREGION) * GEN_HF_PER +
	    (int)rng_weighted(&r, hfw, GEN_HF_PER);
	if (region == gen_products[0].pr_region && rng_pct(&r, 50))
		f->f_product = (int)rng_below(&r, 2);
	else
		f->f_product = rng_pct(&r, 70) ? 2 : 3;
	f->f_officer = (f->f_district - GEN_NREGION) * GEN_OFFICERS_PER +
	    (int)rng_below(&r, GEN_OFFICERS_PER);

	/*
	 * ExpiryDate uniform over [today-180, today+360]: every 14-day window
	 * of the coming year holds policies due for renewal, and StartDate
	 * (one year earlier) is always in the past.
	 */
	f->f_end = g->g_today - 180 + rng_below(&r, 541);
	f->f_start = year_before(f->f_end);
	f->f_enroll = f->f_start - rng_below(&r, 31);
	f->f_effective = f->f_start;
	if (rng_pct(&r, 20))
		f->f_effective += rng_below(&r, 15);
	if (f->f_end < g->g_today)
		f->f_status = GP_CANCELLED;	/* expired */
	else {
		unsigned x = rng_below(&r, 100);

		f->f_status = x < 94 ? GP_ACTIVE : x < 97 ? GP_DRAFT :
		    GP_CANCELLED;
	}
}

static uint64_t
gen_chfid(uint64_t fi, unsigned m)
{
	return UINT64_C(100000000) + fi * 10 + m;
}

static void
gen_members(const struct gen *g, const struct gen_family *f,
    struct gen_rng *r, struct gen_member *mem)
{
	static const unsigned	 relw[] = { 80, 8, 6, 6 };
	static const int	 rels[] = { 4, 2, 1, 7 };
	unsigned		 i, head_age;
	int			 spouse;

	head_age = 22 + rng_below(r, 49);
	mem[0].m_rel = 0;
	mem[0].m_gender = rng_pct(r, 70) ? 'M' : 'F';
	mem[0].m_birth = g->g_today - 365 * (int64_t)head_age -
	    rng_below(r, 365);
	spouse = f->f_nmem >= 2 && rng_pct(r, 75);
	if (spouse)
		mem[0].m_marital = 'M';
	else
		mem[0].m_marital = "SDW"[rng_below(r, 3)];

	for (i = 1; i < f->f_nmem; i++) {
		struct gen_member	*m = &mem[i];
		unsigned		 age;

		if (i == 1 && spouse) {
			m->m_rel = 8;
			m->m_gender = mem[0].m_gender == 'M' ? 'F' : 'M';
			age = head_age + rng_below(r, 11);
			age = age > 23 ? age - 5 : 18;
			m->m_marital = 'M';
		} else {
			m->m_rel = rels[rng_weighted(r, relw, NELEM(relw))];
			m->m_gender = rng_pct(r, 50) ? 'M' : 'F';
			switch (m->m_rel) {
			case 4:
				age = rng_below(r, head_age > 40 ? 25 :
				    head_age - 17);
				m->m_marital = age >= 18 && rng_pct(r, 15) ?
				    'M' : 'S';
				break;
			case 2:
				age = head_age + 20 + rng_below(r, 11);
				if (age > 99)
					age = 99;
				m->m_marital = rng_pct(r, 60) ? 'W' : 'M';
				break;
			default:
				age = 15 + rng_below(r, 46);
				m->m_marital = rng_pct(r, 50) ? 'S' : 'M';
				break;
			}
		}
		m->m_birth = g->g_today - 365 * (int64_t)age -
		    rng_below(r, 365);
	}
	for (i = 0; i < f->f_nmem; i++) {
		mem[i].m_given = mem[i].m_gender == 'M' ?
		    gen_male[rng_below(r, NELEM(gen_male))] :
		    gen_female[rng_below(r, NELEM(gen_female))];
	}
}

static const char *
marital_display(char c)
{
	switch (c) {
	case 'M':
		return "Married";
	case 'D':
		return "Divorced";
	case 'W':
		return "Widowed";
	default:
		return "Single";
	}
}

static void
write_patient(struct gen *g, struct gen_out *o, const struct gen_family *f,
    const struct gen_member *mem, unsigned i, const char *surname,
    const char *addr, struct gen_rng *r)
{
	const struct gen_member	*m = &mem[i];
	struct gen_uuid		 id = gen_id(g, GK_PATIENT,
				    f->f_index * 16 + i);
	struct gen_uuid		 gid = gen_id(g, GK_GROUP, f->f_index);
	char			 chfid[16], phone[16], c[2] = { 0, 0 };
	int64_t			 age_days = g->g_today - m->m_birth;
	const struct gen_code	*code;

	(void)snprintf(chfid, sizeof(chfid), "%" PRIu64,
	    gen_chfid(f->f_index, i));
	out_head(o, "Patient", &id, gen_updated(g, r, f->f_enroll));

	OUT_LIT(o, ",\"extension\":[{\"url\":\"" IG_SD "patient-is-head\","
	    "\"valueBoolean\":");
	if (i == 0)
		OUT_LIT(o, "true}");
	else
		OUT_LIT(o, "false}");
	if (age_days >= 5 * 365 && rng_pct(r, 70)) {
		code = &gen_educations[age_days < 14 * 365 ? 1 :
		    1 + rng_below(r, NELEM(gen_educations) - 1)];
		OUT_LIT(o, ",{\"url\":\"" IG_SD "patient-education-level\","
		    "\"valueCodeableConcept\":" CODING(IG_CS
		    "patient-education-level"));
		out_code_display(o, code->c_code, code->c_display);
		out_char(o, '}');
	}
	if (age_days >= 18 * 365 && rng_pct(r, 70)) {
		code = &gen_professions[rng_below(r, NELEM(gen_professions))];
		OUT_LIT(o, ",{\"url\":\"" IG_SD "patient-profession\","
		    "\"valueCodeableConcept\":" CODING(IG_CS
		    "patient-profession"));
		out_code_display(o, code->c_code, code->c_display);
		out_char(o, '}');
	}
	OUT_LIT(o, ",{\"url\":\"" IG_SD "patient-card-issued\","
	    "\"valueBoolean\":");
	if (rng_pct(r, 80))
		OUT_LIT(o, "true}");
	else
		OUT_LIT(o, "false}");
	OUT_LIT(o, ",{\"url\":\"" IG_SD "patient-group-reference\","
	    "\"valueReference\":");
	out_ref(o, "Group/", &gid);
	out_char(o, '}');
	if (age_days >= 18 * 365 && rng_pct(r, 40)) {
		int	 passport = rng_pct(r, 20);

		OUT_LIT(o, ",{\"url\":\"" IG_SD "patient-identification\","
		    "\"extension\":[{\"url\":\"number\",\"valueString\":\"");
		out_char(o, passport ? 'P' : 'N');
		out_pad(o, rng_below(r, 100000000), 8);
		OUT_LIT(o, "\"},{\"url\":\"type\",\"valueCodeableConcept\":"
		    CODING(IG_CS "patient-identification-type"));
		if (passport)
			OUT_LIT(o, "P\",\"display\":\"Passport\"}]}}]}");
		else
			OUT_LIT(o, "N\",\"display\":\"National ID\"}]}}]}");
	}

	OUT_LIT(o, "],\"identifier\":[");
	out_ident_uuid(o, &id);
	out_char(o, ',');
	out_ident(o, "Code", chfid);
	OUT_LIT(o, "],\"name\":[");
	out_name(o, surname, m->m_given);
	out_char(o, ']');
	if (rng_pct(r, i == 0 ? 90 : 30)) {
		gen_phone(r, phone, sizeof(phone));
		OUT_LIT(o, ",\"telecom\":[");
		out_phone(o, phone);
		if (rng_pct(r, 25)) {
			out_char(o, ',');
			out_email(o, m->m_given, surname,
			    rng_below(r, 100));
		}
		out_char(o, ']');
	}
	if (m->m_gender == 'M')
		OUT_LIT(o, ",\"gender\":\"male\"");
	else
		OUT_LIT(o, ",\"gender\":\"female\"");
	OUT_LIT(o, ",\"birthDate\":");
	out_date(o, m->m_birth);
	OUT_LIT(o, ",\"address\":[");
	out_address(o, g, f->f_village, "home", addr);
	OUT_LIT(o, "],\"maritalStatus\":" CODING(
	    "http://hl7.org/fhir/valueset-marital-status.html"));
	c[0] = m->m_marital;
	out_code_display(o, c, marital_display(m->m_marital));
	if (i > 0) {
		code = &gen_relations[m->m_rel];
		OUT_LIT(o, ",\"contact\":[{\"relationship\":[" CODING(IG_CS
		    "patient-contact-relationship"));
		out_code_display(o, code->c_code, code->c_display);
		OUT_LIT(o, "],\"name\":");
		out_name(o, surname, mem[0].m_given);
		OUT_LIT(o, "}]");
	}
	OUT_LIT(o, ",\"generalPractitioner\":[");
	out_ref(o, "Organization/", &g->g_hf[f->f_hf].h_id);
	out_char(o, ']');
	out_end(o);
}

static void
write_group(struct gen *g, struct gen_out *o, const struct gen_family *f,
    const char *surname, const char *addr, struct gen_rng *r)
{
	struct gen_uuid		 id = gen_id(g, GK_GROUP, f->f_index);
	struct gen_uuid		 pid;
	const struct gen_code	*type;
	char			 chfid[16];
	unsigned		 i;

	type = &gen_group_types[rng_pct(r, 85) ? 0 :
	    1 + rng_below(r, NELEM(gen_group_types) - 1)];
	out_head(o, "Group", &id, gen_updated(g, r, f->f_enroll));
	OUT_LIT(o, ",\"extension\":[{\"url\":\"" IG_SD "group-address\","
	    "\"valueAddress\":");
	out_address(o, g, f->f_village, "home", addr);
	OUT_LIT(o, "},{\"url\":\"" IG_SD "group-poverty-status\","
	    "\"valueBoolean\":");
	if (rng_pct(r, 25))
		OUT_LIT(o, "true}");
	else
		OUT_LIT(o, "false}");
	OUT_LIT(o, ",{\"url\":\"" IG_SD "group-type\","
	    "\"valueCodeableConcept\":" CODING(IG_CS "group-type"));
	out_code_display(o, type->c_code, type->c_display);
	OUT_LIT(o, "}],\"identifier\":[");
	out_ident_uuid(o, &id);
	out_char(o, ',');
	(void)snprintf(chfid, sizeof(chfid), "%" PRIu64,
	    gen_chfid(f->f_index, 0));
	out_ident(o, "Code", chfid);
	OUT_LIT(o, "],\"active\":");
	if (f->f_status == GP_ACTIVE)
		OUT_LIT(o, "true");
	else
		OUT_LIT(o, "false");
	OUT_LIT(o, ",\"type\":\"person\",\"actual\":true,\"name\":");
	out_jstr(o, surname);
	OUT_LIT(o, ",\"quantity\":");
	out_u64(o, f->f_nmem);
	OUT_LIT(o, ",\"member\":[");
	for (i = 0; i < f->f_nmem; i++) {
		if (i > 0)
			out_char(o, ',');
		pid = gen_id(g, GK_PATIENT, f->f_index * 16 + i);
		OUT_LIT(o, "{\"entity\":{\"reference\":\"Patient/");
		out_uuid(o, &pid);
		OUT_LIT(o, "\",\"type\":\"Patient\",\"display\":\"");
		out_u64(o, gen_chfid(f->f_index, i));
		OUT_LIT(o, "\"}}");
	}
	out_char(o, ']');
	out_end(o);
}

static void
write_coverage(struct gen *g, struct gen_out *o, const struct gen_family *f,
    struct gen_rng *r)
{
	static const char	 date_ext[] = "{\"url\":\"" IG
				    "/StructureDefinition/coverage-date\","
				    "\"valueDate\":";
	const struct gen_product *p = &gen_products[f->f_product];
	struct gen_uuid		 id = gen_id(g, GK_COVERAGE, f->f_index);
	struct gen_uuid		 head = gen_id(g, GK_PATIENT, f->f_index * 16);
	struct gen_uuid		 ins = gen_id(g, GK_INSURER, 0);
	char			 acsn[24];

	out_head(o, "Coverage", &id, gen_updated(g, r, f->f_enroll));
	/*
	 * openIMIS builds this URL as "{base_url}/StructureDefinition/…"
	 * with a base that ends in '/', hence the double slash (A1.3).
	 * EnrollDate first, then EffectiveDate; an Idle policy has none.
	 */
	OUT_LIT(o, ",\"extension\":[");
	out_mem(o, date_ext, sizeof(date_ext) - 1);
	out_date(o, f->f_enroll);
	out_char(o, '}');
	if (f->f_status != GP_DRAFT) {
		out_char(o, ',');
		out_mem(o, date_ext, sizeof(date_ext) - 1);
		out_date(o, f->f_effective);
		out_char(o, '}');
	}
	OUT_LIT(o, "],\"identifier\":[");
	out_ident_uuid(o, &id);
	out_char(o, ',');
	(void)snprintf(acsn, sizeof(acsn), "%" PRIu64, f->f_index + 1);
	out_ident(o, "ACSN", acsn);
	OUT_LIT(o, "],\"status\":");
	switch (f->f_status) {
	case GP_ACTIVE:
		OUT_LIT(o, "\"active\"");
		break;
	case GP_DRAFT:
		OUT_LIT(o, "\"draft\"");
		break;
	default:
		OUT_LIT(o, "\"cancelled\"");
		break;
	}
	OUT_LIT(o, ",\"policyHolder\":");
	out_ref(o, "Patient/", &head);
	OUT_LIT(o, ",\"subscriber\":");
	out_ref(o, "Patient/", &head);
	OUT_LIT(o, ",\"beneficiary\":");
	out_ref(o, "Patient/", &head);
	OUT_LIT(o, ",\"period\":{\"start\":");
	out_date(o, f->f_start);
	OUT_LIT(o, ",\"end\":");
	out_date(o, f->f_end);
	OUT_LIT(o, "},\"payor\":[");
	out_ref(o, "Organization/", &ins);
	OUT_LIT(o, "],\"class\":[{\"type\":" CODING(
	    "http://terminology.hl7.org/CodeSystem/coverage-class")
	    "plan\",\"display\":\"Plan\"}]},\"value\":");
	out_jstr(o, p->pr_code);
	OUT_LIT(o, ",\"name\":");
	out_jstr(o, p->pr_name);
	OUT_LIT(o, "}]");
	out_end(o);
}

/* Patient, Group and Coverage for every family. */
static void
gen_part_insurees(struct gen *g)
{
	struct gen_out		*po = &g->g_out[GT_PATIENT];
	struct gen_out		*go = &g->g_out[GT_GROUP];
	struct gen_out		*co = &g->g_out[GT_COVERAGE];
	struct gen_family	 f;
	struct gen_member	 mem[GEN_MAX_MEMBERS];
	struct gen_rng		 r;
	const char		*surname;
	char			 addr[64];
	uint64_t		 fi;
	unsigned		 i;

	for (fi = 0; fi < g->g_families; fi++) {
		gen_family(g, fi, &f);
		rng_init(&r, g, GS_MEMBERS, fi);
		gen_members(g, &f, &r, mem);
		surname = gen_surnames[rng_below(&r, NELEM(gen_surnames))];
		(void)snprintf(addr, sizeof(addr), "House %u, %s",
		    1 + rng_below(&r, 400), g->g_loc[f.f_village].l_name);
		for (i = 0; i < f.f_nmem; i++)
			write_patient(g, po, &f, mem, i, surname, addr, &r);
		write_group(g, go, &f, surname, addr, &r);
		write_coverage(g, co, &f, &r);
		if (po->o_errno != 0 || go->o_errno != 0 || co->o_errno != 0)
			break;
	}
}

/* Claims. */

static void
out_claim_code(struct gen_out *o, uint64_t code)
{
	out_char(o, 'C');
	if (code < 10000000)
		out_pad(o, code, 7);
	else
		out_u64(o, code);
}

static void
out_visit_type(struct gen_out *o, char visit)
{
	OUT_LIT(o, CODING(IG_CS "claim-visit-type"));
	if (visit == 'E')
		OUT_LIT(o, "E\",\"display\":\"Emergency\"}]}");
	else if (visit == 'R')
		OUT_LIT(o, "R\",\"display\":\"Referrals\"}]}");
	else
		OUT_LIT(o, "O\",\"display\":\"Other\"}]}");
}

/* 'updated' is its meta.lastUpdated (an amendment's Provenance needs it). */
static void
write_claim(struct gen *g, struct gen_out *o, const struct gen_claim *c,
    const struct gen_uuid *cov, int64_t updated)
{
	const struct gen_medical	*m;
	struct gen_uuid			 ref;
	int				 i;

	out_head(o, "Claim", &c->c_id, updated);
	OUT_LIT(o, ",\"identifier\":[");
	out_ident_uuid(o, &c->c_id);
	OUT_LIT(o, "," ID_TYPE("MR"));
	out_claim_code(o, c->c_code);
	OUT_LIT(o, "\"}],\"status\":\"active\",\"type\":");
	out_visit_type(o, c->c_visit);
	OUT_LIT(o, ",\"use\":\"claim\",\"patient\":");
	out_ref(o, "Patient/", &c->c_patient);
	OUT_LIT(o, ",\"billablePeriod\":{\"start\":");
	out_date(o, c->c_from);
	OUT_LIT(o, ",\"end\":");
	out_date(o, c->c_to);
	OUT_LIT(o, "},\"created\":");
	out_date(o, c->c_created);
	OUT_LIT(o, ",\"enterer\":");
	out_ref(o, "Practitioner/", &g->g_admin[c->c_admin].p_id);
	OUT_LIT(o, ",\"provider\":");
	out_ref(o, "Organization/", &g->g_hf[c->c_hf].h_id);
	OUT_LIT(o, ",\"priority\":" CODING(
	    "http://terminology.hl7.org/CodeSystem/processpriority")
	    "normal\",\"display\":\"Normal\"}]},\"diagnosis\":[");
	for (i = 0; i < c->c_ndiag; i++) {
		const struct gen_code	*d = &gen_diagnoses[c->c_diag[i]];

		if (i > 0)
			out_char(o, ',');
		OUT_LIT(o, "{\"sequence\":");
		out_u64(o, (uint64_t)i + 1);
		OUT_LIT(o, ",\"diagnosisCodeableConcept\":" CODING(IG_CS
		    "diagnosis-ICD10-level1"));
		out_code_display(o, d->c_code, d->c_display);
		out_char(o, '}');
	}
	OUT_LIT(o, "],\"insurance\":[{\"sequence\":1,\"focal\":true,"
	    "\"coverage\":");
	out_ref(o, "Coverage/", cov);
	OUT_LIT(o, "}],\"item\":[");
	for (i = 0; i < c->c_nline; i++) {
		const struct gen_line	*ln = &c->c_line[i];

		if (i > 0)
			out_char(o, ',');
		m = ln->ln_service ? &gen_services[ln->ln_idx] :
		    &gen_items[ln->ln_idx];
		ref = gen_id(g, ln->ln_service ? GK_SERVICE : GK_ITEM,
		    (uint64_t)ln->ln_idx);
		OUT_LIT(o, "{\"extension\":[{\"url\":\"" IG_SD
		    "claim-item-reference\",\"valueReference\":{"
		    "\"reference\":\"");
		if (ln->ln_service)
			OUT_LIT(o, "ActivityDefinition/");
		else
			OUT_LIT(o, "Medication/");
		out_uuid(o, &ref);
		OUT_LIT(o, "\",\"type\":\"");
		if (ln->ln_service)
			OUT_LIT(o, "ActivityDefinition");
		else
			OUT_LIT(o, "Medication");
		OUT_LIT(o, "\",\"display\":");
		out_jstr(o, m->m_code);
		OUT_LIT(o, "}}],\"sequence\":");
		out_u64(o, (uint64_t)i + 1);
		if (ln->ln_service)
			OUT_LIT(o, ",\"category\":{\"text\":\"service\"}");
		else
			OUT_LIT(o, ",\"category\":{\"text\":\"item\"}");
		OUT_LIT(o, ",\"productOrService\":{\"text\":");
		out_jstr(o, m->m_code);
		OUT_LIT(o, "},\"quantity\":{\"value\":");
		out_u64(o, ln->ln_qty);
		OUT_LIT(o, "},\"unitPrice\":");
		out_money_obj(o, ln->ln_price);
		out_char(o, '}');
	}
	OUT_LIT(o, "],\"total\":");
	out_money_obj(o, c->c_total);
	out_end(o);
}

static const char *
reason_display(int reason)
{
	switch (reason) {
	case 0:
		return "ACCEPTED";
	case 2:
		return "NOT IN PRICE LIST";
	case 3:
		return "NO PRODUCT FOUND";
	case 4:
		return "CATEGORY LIMITATION";
	case 5:
		return "FREQUENCY FAILURE";
	case 16:
		return "QTY OVER LIMIT";
	default:
		return "WAITING PERIOD FAIL";
	}
}

static void
out_status_category(struct gen_out *o, const char *status)
{
	OUT_LIT(o, "{\"category\":" CODING(IG_CS "claim-status"));
	out_code_display(o, status, status);
}

static void
write_claim_response(struct gen *g, struct gen_out *o,
    const struct gen_claim *c, struct gen_rng *r)
{
	static const char *const	 statuses[3] = {
		"valuated", "processed", "rejected"
	};
	const char			*st = statuses[c->c_outcome];
	struct gen_uuid			 ins = gen_id(g, GK_INSURER, 0);
	char				 reason[8];
	int				 i;

	out_head(o, "ClaimResponse", &c->c_resp,
	    gen_updated(g, r, c->c_resp_created));
	OUT_LIT(o, ",\"identifier\":[");
	out_ident_uuid(o, &c->c_resp);
	OUT_LIT(o, "," ID_TYPE("MR"));
	out_claim_code(o, c->c_code);
	OUT_LIT(o, "\"}],\"status\":\"active\",\"type\":");
	out_visit_type(o, c->c_visit);
	OUT_LIT(o, ",\"use\":\"claim\",\"patient\":");
	out_ref(o, "Patient/", &c->c_patient);
	OUT_LIT(o, ",\"created\":");
	out_date(o, c->c_resp_created);
	OUT_LIT(o, ",\"insurer\":");
	out_ref(o, "Organization/", &ins);
	OUT_LIT(o, ",\"requestor\":");
	out_ref(o, "Practitioner/", &g->g_admin[c->c_admin].p_id);
	OUT_LIT(o, ",\"request\":");
	out_ref(o, "Claim/", &c->c_id);
	OUT_LIT(o, ",\"outcome\":");
	if (c->c_outcome == 0)
		OUT_LIT(o, "\"complete\"");
	else if (c->c_outcome == 1)
		OUT_LIT(o, "\"partial\"");
	else
		OUT_LIT(o, "\"error\"");
	OUT_LIT(o, ",\"item\":[");
	for (i = 0; i < c->c_nline; i++) {
		const struct gen_line	*ln = &c->c_line[i];

		if (i > 0)
			out_char(o, ',');
		OUT_LIT(o, "{\"itemSequence\":");
		out_u64(o, (uint64_t)i + 1);
		OUT_LIT(o, ",\"adjudication\":[");
		out_status_category(o, ln->ln_reason == 0 ? st : "rejected");
		OUT_LIT(o, ",\"reason\":" CODING(IG_CS
		    "claim-rejection-reasons"));
		(void)snprintf(reason, sizeof(reason), "%d", ln->ln_reason);
		out_code_display(o, reason, reason_display(ln->ln_reason));
		OUT_LIT(o, ",\"amount\":");
		out_money_obj(o, ln->ln_price);
		OUT_LIT(o, ",\"value\":");
		out_u64(o, ln->ln_qty);
		OUT_LIT(o, "}]}");
	}
	OUT_LIT(o, "],\"total\":[");
	out_status_category(o, "entered");
	OUT_LIT(o, ",\"amount\":");
	out_money_obj(o, c->c_total);
	OUT_LIT(o, "},");
	out_status_category(o, st);
	OUT_LIT(o, ",\"amount\":");
	out_money_obj(o, c->c_approved);
	OUT_LIT(o, "}]");
	out_end(o);
}

/*
 * One Provenance of claim 'c': version 'v' (0 entered, 1 amended) recorded
 * at 'rec' by claim administrator 'admin'.  Its lastUpdated is 'rec', or
 * a time in the last year when 'rec' is older (as for every resource).
 */
static void
out_provenance(struct gen *g, struct gen_out *o, const struct gen_claim *c,
    uint64_t ci, int64_t rec, int admin, int v, struct gen_rng *r)
{
	const struct gen_hf	*h = &g->g_hf[c->c_hf];
	const struct gen_code	*src = &gen_sources[c->c_hf % GEN_HF_PER];
	struct gen_uuid		 id = gen_id(g, GK_PROVENANCE, ci * 2 +
				    (uint64_t)v);

	out_head(o, "Provenance", &id, rec >= (g->g_today - 365) * 86400 ?
	    rec : gen_updated(g, r, 0));
	OUT_LIT(o, ",\"target\":[");
	out_ref(o, "Claim/", &c->c_id);
	OUT_LIT(o, "],\"recorded\":");
	out_instant(o, rec);
	OUT_LIT(o, ",\"activity\":" CODING(
	    "http://terminology.hl7.org/CodeSystem/v3-DataOperation"));
	if (v == 0)
		OUT_LIT(o, "CREATE\",\"display\":\"create\"}]}");
	else
		OUT_LIT(o, "UPDATE\",\"display\":\"revise\"}]}");
	OUT_LIT(o, ",\"agent\":[{\"type\":" CODING(
	    "http://terminology.hl7.org/CodeSystem/provenance-participant-type")
	    "enterer\",\"display\":\"Enterer\"}]},\"who\":");
	out_ref(o, "Practitioner/", &g->g_admin[admin].p_id);
	OUT_LIT(o, ",\"onBehalfOf\":");
	out_ref(o, "Organization/", &h->h_id);
	OUT_LIT(o, "}],\"entity\":[{\"role\":\"source\",\"what\":{"
	    "\"identifier\":{\"system\":\"" GEN_SOURCE_SYSTEM "\","
	    "\"value\":\"");
	out_str(o, h->h_code);	/* [A-Z0-9]: nothing to escape */
	out_char(o, '-');
	out_str(o, src->c_code);
	OUT_LIT(o, "\"},\"display\":");
	out_jstr(o, src->c_display);
	OUT_LIT(o, "}}]");
	out_end(o);
}

/*
 * The Provenance of claim 'c' (claim index 'ci', lastUpdated 'updated'):
 * none, the entry on DateClaimed in working hours, or the entry and an
 * amendment by an administrator of the same facility at 'updated'.
 */
static void
write_provenance(struct gen *g, struct gen_out *o, const struct gen_claim *c,
    uint64_t ci, int64_t updated)
{
	const struct gen_hf	*h = &g->g_hf[c->c_hf];
	struct gen_rng		 r;
	int64_t			 rec;
	int			 admin;

	rng_init(&r, g, GS_PROVENANCE, ci);
	if (rng_pct(&r, GEN_PROV_NONE))
		return;
	rec = c->c_created * 86400 + 7 * 3600 + rng_below(&r, 11 * 3600);
	if (rec > updated)
		rec = updated;
	out_provenance(g, o, c, ci, rec, c->c_admin, 0, &r);
	if (!rng_pct(&r, GEN_PROV_AMENDED) || updated - rec < 3600)
		return;
	admin = h->h_admin + (int)rng_below(&r, (uint32_t)h->h_nadmin);
	out_provenance(g, o, c, ci, updated, admin, 1, &r);
}

/* Draws one claim of member 'm' of family 'f' (k-th of the family). */
static void
gen_claim(struct gen *g, const struct gen_family *f, unsigned m, unsigned k,
    uint64_t code, struct gen_rng *r, struct gen_claim *c)
{
	static const unsigned	 visitw[] = { 80, 12, 8 };
	/* Medicines per claim: 0..4, about 1.4 (plus 1-2 services). */
	static const unsigned	 itemw[GEN_MAX_LINES - 1] = {
		25, 30, 25, 15, 5
	};
	int64_t			 from, to, stay;
	int			 district_hf, i, nitems, nserv, rejected;

	c->c_id = gen_id(g, GK_CLAIM, f->f_index * 32 + k);
	c->c_resp = gen_id(g, GK_CLAIMRESPONSE, f->f_index * 32 + k);
	c->c_patient = gen_id(g, GK_PATIENT, f->f_index * 16 + m);
	c->c_code = code;
	c->c_visit = "ORE"[rng_weighted(r, visitw, NELEM(visitw))];

	/* Created inside the policy period, never after yesterday. */
	from = f->f_start;
	to = f->f_end < g->g_today - 1 ? f->f_end : g->g_today - 1;
	c->c_created = from + rng_below(r, (uint32_t)(to - from + 1));
	c->c_to = c->c_created - rng_below(r, 3);
	if (c->c_to < from)
		c->c_to = from;
	stay = c->c_visit == 'O' ? 0 : rng_below(r, c->c_visit == 'E' ? 2 : 6);
	c->c_from = c->c_to - stay < from ? from : c->c_to - stay;
	c->c_resp_created = c->c_created + rng_below(r, 15);
	if (c->c_resp_created > g->g_today - 1)
		c->c_resp_created = g->g_today - 1;

	district_hf = (f->f_district - GEN_NREGION) * GEN_HF_PER;
	if (c->c_visit == 'O' && rng_pct(r, 75))
		c->c_hf = f->f_hf;
	else
		c->c_hf = district_hf + (int)rng_below(r, GEN_HF_PER);
	c->c_admin = g->g_hf[c->c_hf].h_admin +
	    (int)rng_below(r, (uint32_t)g->g_hf[c->c_hf].h_nadmin);
	c->c_ndiag = rng_pct(r, 20) ? 2 : 1;
	for (i = 0; i < c->c_ndiag; i++)
		c->c_diag[i] = (int)rng_below(r, GEN_NDIAG);

	nserv = 1 + (rng_pct(r, 25) ? 1 : 0);
	nitems = (int)rng_weighted(r, itemw, NELEM(itemw));
	c->c_nline = nserv + nitems;
	c->c_total = 0;
	for (i = 0; i < c->c_nline; i++) {
		struct gen_line	*ln = &c->c_line[i];

		ln->ln_service = i >= nitems;
		if (ln->ln_service) {
			ln->ln_idx = (int)rng_below(r, GEN_NSERVICE);
			ln->ln_qty = gen_services[ln->ln_idx].m_care == 'I' &&
			    stay > 0 ? (unsigned)stay : 1;
			ln->ln_price = gen_services[ln->ln_idx].m_price;
		} else {
			ln->ln_idx = (int)rng_below(r, GEN_NITEM);
			ln->ln_qty = 1 + rng_below(r, 10);
			ln->ln_price = gen_items[ln->ln_idx].m_price;
		}
		ln->ln_reason = 0;
		c->c_total += ln->ln_price * ln->ln_qty;
	}

	/* Adjudication: valuated (complete), partly rejected, or rejected. */
	if (f->f_status == GP_DRAFT)
		c->c_outcome = 2;
	else {
		unsigned x = rng_below(r, 100);

		c->c_outcome = x < 80 ? 0 : x < 95 ? 1 : 2;
		if (c->c_outcome == 1 && c->c_nline < 2)
			c->c_outcome = 0;
	}
	c->c_approved = c->c_total;
	if (c->c_outcome == 1) {
		static const int	 reasons[] = { 2, 4, 5, 16 };

		rejected = (int)rng_below(r, (uint32_t)c->c_nline);
		c->c_line[rejected].ln_reason = reasons[rng_below(r,
		    NELEM(reasons))];
		c->c_approved -= c->c_line[rejected].ln_price *
		    c->c_line[rejected].ln_qty;
	} else if (c->c_outcome == 2) {
		for (i = 0; i < c->c_nline; i++)
			c->c_line[i].ln_reason = f->f_status == GP_DRAFT ?
			    3 : 17;
		c->c_approved = 0;
	}
}

/* Claim, ClaimResponse and Provenance for every insuree: about one each. */
static void
gen_part_claims(struct gen *g)
{
	static const unsigned	 nclaimw[GEN_MAX_CLAIMS + 1] = {
		30, 45, 20, 5
	};
	struct gen_out		*co = &g->g_out[GT_CLAIM];
	struct gen_out		*ro = &g->g_out[GT_CLAIMRESPONSE];
	struct gen_out		*po = &g->g_out[GT_PROVENANCE];
	struct gen_family	 f;
	struct gen_claim	 c;
	struct gen_uuid		 cov;
	struct gen_rng		 r;
	uint64_t		 fi, code = 1;
	int64_t			 updated;
	unsigned		 m, k, n, j;

	for (fi = 0; fi < g->g_families; fi++) {
		gen_family(g, fi, &f);
		rng_init(&r, g, GS_CLAIMS, fi);
		cov = gen_id(g, GK_COVERAGE, fi);
		for (m = 0, k = 0; m < f.f_nmem; m++) {
			n = rng_weighted(&r, nclaimw, NELEM(nclaimw));
			for (j = 0; j < n; j++, k++) {
				gen_claim(g, &f, m, k, code++, &r, &c);
				updated = gen_updated(g, &r, c.c_created);
				write_claim(g, co, &c, &cov, updated);
				write_claim_response(g, ro, &c, &r);
				write_provenance(g, po, &c, fi * 32 + k,
				    updated);
			}
		}
		if (co->o_errno != 0 || ro->o_errno != 0 || po->o_errno != 0)
			break;
	}
}

/* Files. */

static int
gen_open(struct gen *g, enum gen_type t)
{
	struct gen_out	*o = &g->g_out[t];

	o->o_fp = fopen(o->o_tmp, "w");
	if (o->o_fp == NULL) {
		fprintf(stderr, GEN_PROG ": %s: %s\n", o->o_tmp,
		    strerror(errno));
		return -1;
	}
	o->o_buf = xmalloc(GEN_OUTBUF);
	o->o_len = 0;
	return 0;
}

static int
gen_close(struct gen *g, enum gen_type t)
{
	struct gen_out	*o = &g->g_out[t];
	int		 rc = 0;

	if (o->o_fp == NULL)
		return 0;
	out_flush(o);
	if (fclose(o->o_fp) != 0 && o->o_errno == 0)
		o->o_errno = errno != 0 ? errno : EIO;
	o->o_fp = NULL;
	free(o->o_buf);
	o->o_buf = NULL;
	if (o->o_errno != 0) {
		fprintf(stderr, GEN_PROG ": %s: %s\n", o->o_tmp,
		    strerror(o->o_errno));
		rc = -1;
	}
	return rc;
}

/* Removes every temporary file (after a failure). */
static void
gen_discard(struct gen *g)
{
	int	 t;

	for (t = 0; t < GT_COUNT; t++) {
		if (g->g_out[t].o_fp != NULL) {
			(void)fclose(g->g_out[t].o_fp);
			g->g_out[t].o_fp = NULL;
		}
		free(g->g_out[t].o_buf);
		g->g_out[t].o_buf = NULL;
		if (g->g_out[t].o_tmp != NULL)
			(void)unlink(g->g_out[t].o_tmp);
	}
}

static int
gen_mkdirs(const char *dir)
{
	struct stat	 st;
	char		*p, *s;
	int		 rc = -1;

	s = xstrdup(dir);
	for (p = s + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(s, 0777) == -1 && errno != EEXIST)
			goto out_free;
		*p = '/';
	}
	if (mkdir(s, 0777) == -1 && errno != EEXIST)
		goto out_free;
	if (stat(s, &st) == -1)
		goto out_free;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		goto out_free;
	}
	rc = 0;
 out_free:
	if (rc == -1)
		fprintf(stderr, GEN_PROG ": %s: %s\n", s, strerror(errno));
	free(s);
	return rc;
}

/* The reference tables, written before the families (small). */
static int
gen_write_tables(struct gen *g)
{
	static const enum gen_type	 types[] = {
		GT_LOCATION, GT_ORGANIZATION, GT_PRACTITIONER,
		GT_INSURANCEPLAN, GT_MEDICATION, GT_ACTIVITYDEFINITION,
	};
	size_t				 t;
	int				 i, rc = 0;

	for (t = 0; t < NELEM(types); t++) {
		if (gen_open(g, types[t]) == -1)
			return -1;
	}
	for (i = 0; i < GEN_NLOC; i++)
		write_location(g, &g->g_out[GT_LOCATION], &g->g_loc[i]);
	write_insurer(g, &g->g_out[GT_ORGANIZATION]);
	for (i = 0; i < GEN_NHF; i++)
		write_hf(g, &g->g_out[GT_ORGANIZATION], &g->g_hf[i]);
	for (i = 0; i < GEN_NADMIN; i++)
		write_practitioner(&g->g_out[GT_PRACTITIONER], &g->g_admin[i]);
	for (i = 0; i < GEN_NOFFICER; i++)
		write_practitioner(&g->g_out[GT_PRACTITIONER],
		    &g->g_officer[i]);
	for (i = 0; i < (int)GEN_NPRODUCT; i++)
		write_product(g, &g->g_out[GT_INSURANCEPLAN], i);
	for (i = 0; i < (int)GEN_NITEM; i++)
		write_medication(g, &g->g_out[GT_MEDICATION], i);
	for (i = 0; i < (int)GEN_NSERVICE; i++)
		write_activity(g, &g->g_out[GT_ACTIVITYDEFINITION], i);
	for (t = 0; t < NELEM(types); t++) {
		if (gen_close(g, types[t]) == -1)
			rc = -1;
	}
	return rc;
}

static int
gen_run_insurees(struct gen *g)
{
	int	 rc = 0;

	if (gen_open(g, GT_PATIENT) == -1 || gen_open(g, GT_GROUP) == -1 ||
	    gen_open(g, GT_COVERAGE) == -1)
		return -1;
	gen_part_insurees(g);
	if (gen_close(g, GT_PATIENT) == -1)
		rc = -1;
	if (gen_close(g, GT_GROUP) == -1)
		rc = -1;
	if (gen_close(g, GT_COVERAGE) == -1)
		rc = -1;
	return rc;
}

static int
gen_run_claims(struct gen *g)
{
	int	 rc = 0;

	if (gen_open(g, GT_CLAIM) == -1 ||
	    gen_open(g, GT_CLAIMRESPONSE) == -1 ||
	    gen_open(g, GT_PROVENANCE) == -1)
		return -1;
	gen_part_claims(g);
	if (gen_close(g, GT_CLAIM) == -1)
		rc = -1;
	if (gen_close(g, GT_CLAIMRESPONSE) == -1)
		rc = -1;
	if (gen_close(g, GT_PROVENANCE) == -1)
		rc = -1;
	return rc;
}

/*
 * Writes all files; with --jobs 2 the claim side runs in a forked child,
 * which reports its counters through a pipe.
 */
static int
gen_run(struct gen *g, struct gen_stats *st)
{
	struct gen_stats	 cs;
	pid_t			 pid;
	ssize_t			 n;
	size_t			 got;
	int			 fds[2], status, t, rc = -1;

	if (gen_write_tables(g) == -1)
		return -1;
	if (g->g_jobs < 2) {
		if (gen_run_insurees(g) == -1 || gen_run_claims(g) == -1)
			return -1;
		goto out_stats;
	}

	if (pipe(fds) == -1) {
		fprintf(stderr, GEN_PROG ": pipe: %s\n", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == -1) {
		fprintf(stderr, GEN_PROG ": fork: %s\n", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		rc = gen_run_claims(g);
		memset(&cs, 0, sizeof(cs));
		for (t = 0; t < GT_COUNT; t++) {
			cs.s_bytes[t] = g->g_out[t].o_bytes;
			cs.s_count[t] = g->g_out[t].o_count;
		}
		if (rc == 0 && write(fds[1], &cs, sizeof(cs)) !=
		    (ssize_t)sizeof(cs))
			rc = -1;
		close(fds[1]);
		_exit(rc == 0 ? 0 : 1);
	}
	close(fds[1]);
	rc = gen_run_insurees(g);
	memset(&cs, 0, sizeof(cs));
	for (got = 0; got < sizeof(cs); got += (size_t)n) {
		n = read(fds[0], (char *)&cs + got, sizeof(cs) - got);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			break;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			status = -1;
			break;
		}
	}
	if (rc == -1)
		return -1;
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    got != sizeof(cs)) {
		if (status != -1 && WIFSIGNALED(status))
			fprintf(stderr, GEN_PROG ": claim writer killed by "
			    "signal %d\n", WTERMSIG(status));
		return -1;
	}
	for (t = GT_CLAIM; t <= GT_PROVENANCE; t++) {	/* claim side */
		g->g_out[t].o_bytes = cs.s_bytes[t];
		g->g_out[t].o_count = cs.s_count[t];
	}

 out_stats:
	for (t = 0; t < GT_COUNT; t++) {
		st->s_bytes[t] = g->g_out[t].o_bytes;
		st->s_count[t] = g->g_out[t].o_count;
	}
	return 0;
}

static void
gen_summary(const struct gen_stats *st, double secs)
{
	char		 count[32];
	uint64_t	 bytes = 0, n = 0;
	double		 size;
	const char	*unit;
	int		 t;

	for (t = 0; t < GT_COUNT; t++) {
		bytes += st->s_bytes[t];
		n += st->s_count[t];
	}
	str_group_digits(count, sizeof(count), (int64_t)n);
	if (bytes >= 1000000000) {
		size = (double)bytes / 1e9;
		unit = "GB";
	} else if (bytes >= 1000000) {
		size = (double)bytes / 1e6;
		unit = "MB";
	} else {
		size = (double)bytes / 1e3;
		unit = "kB";
	}
	fprintf(stderr, "generated %s resources in %d files (%.1f %s) in "
	    "%.1f s\n", count, GT_COUNT, size, unit, secs);
}

/* Arguments. */

static void
gen_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bulkhead generate --out DIR [--families N] [--seed S]\n"
	    "                         [--today YYYY-MM-DD] [--jobs 1|2]\n"
	    "\n"
	    "Writes a deterministic, openIMIS-shaped FHIR R4 dataset as\n"
	    "NDJSON, one <Type>.ndjson per resource type, into DIR (created\n"
	    "if missing).\n"
	    "\n"
	    "  --out DIR            output directory (required)\n"
	    "  --families N         families to generate, 1..%d (default %d);\n"
	    "                       about 4.6 insurees and claims per family,\n"
	    "                       one or two Provenance per claim (most)\n"
	    "  --seed S             PRNG seed, 0..%" PRId64 " (default 1)\n"
	    "  --today YYYY-MM-DD   the reference date (default: today, UTC)\n"
	    "  --jobs N             processes to write with, 1 or 2 "
	    "(default 2);\n"
	    "                       the output does not depend on it\n"
	    "  -h, --help           show this help\n",
	    GEN_MAX_FAMILIES, GEN_DEFAULT_FAMILIES, INT64_MAX);
}

static int
gen_usage_error(const char *flag, const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, GEN_PROG ": %s: ", flag);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int
gen_parse_args(struct gen *g, int argc, char **argv)
{
	static const char *const	 flags[] = {
		"--families", "--seed", "--out", "--today", "--jobs"
	};
	const char			*arg, *val, *eq, *errstr;
	char				 name[16];
	int64_t				 v;
	size_t				 f, len;
	int				 i;

	for (i = 1; i < argc; i++) {
		arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return 1;
		if (arg[0] != '-' || arg[1] != '-')
			return gen_usage_error(arg, "unexpected argument");
		eq = strchr(arg, '=');
		len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (f = 0; f < NELEM(flags); f++) {
			if (strlen(flags[f]) == len &&
			    strncmp(arg, flags[f], len) == 0)
				break;
		}
		if (f == NELEM(flags))
			return gen_usage_error(arg, "unknown option");
		str_lcpy(name, flags[f], sizeof(name));
		if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return gen_usage_error(name, "missing value");

		switch (f) {
		case 0:
			if (str_to_i64(val, 1, GEN_MAX_FAMILIES, &v,
			    &errstr) == -1)
				return gen_usage_error(name, "%s: \"%s\" "
				    "(expected 1..%d)", errstr, val,
				    GEN_MAX_FAMILIES);
			g->g_families = (uint64_t)v;
			break;
		case 1:
			if (str_to_i64(val, 0, INT64_MAX, &v, &errstr) == -1)
				return gen_usage_error(name, "%s: \"%s\" "
				    "(expected 0..%" PRId64 ")", errstr, val,
				    INT64_MAX);
			g->g_seed = (uint64_t)v;
			break;
		case 2:
			if (val[0] == '\0')
				return gen_usage_error(name, "empty path");
			g->g_dir = val;
			break;
		case 3:
			if (generate_parse_date(val, &g->g_today) == -1)
				return gen_usage_error(name, "invalid date "
				    "\"%s\" (expected YYYY-MM-DD, 1971..9000)",
				    val);
			break;
		default:
			if (str_to_i64(val, 1, 2, &v, &errstr) == -1)
				return gen_usage_error(name, "%s: \"%s\" "
				    "(expected 1 or 2)", errstr, val);
			g->g_jobs = (int)v;
			break;
		}
	}
	if (g->g_dir == NULL)
		return gen_usage_error("--out", "required");
	return 0;
}

int
generate_main(int argc, char **argv)
{
	struct gen		*g;
	struct gen_stats	 st;
	struct timespec		 t0, t1;
	int			 rc, t, status = 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	g = xcalloc(1, sizeof(*g));
	g->g_families = GEN_DEFAULT_FAMILIES;
	g->g_seed = 1;
	g->g_today = (int64_t)(time(NULL) / 86400);
	g->g_jobs = 2;

	rc = gen_parse_args(g, argc, argv);
	if (rc != 0) {
		if (rc == 1)
			gen_usage(stdout);
		status = rc == 1 ? 0 : 2;
		goto out_free;
	}
	g->g_key = mix64(g->g_seed ^ UINT64_C(0x6f70656e494d4953));
	if (g->g_families < (uint64_t)g->g_jobs)
		g->g_jobs = 1;

	if (gen_mkdirs(g->g_dir) == -1)
		goto out_free;
	for (t = 0; t < GT_COUNT; t++) {
		g->g_out[t].o_path = xasprintf("%s/%s.ndjson", g->g_dir,
		    gen_type_names[t]);
		g->g_out[t].o_tmp = xasprintf("%s.tmp", g->g_out[t].o_path);
	}
	gen_world(g);
	memset(&st, 0, sizeof(st));
	if (gen_run(g, &st) == -1) {
		gen_discard(g);
		goto out_free;
	}
	for (t = 0; t < GT_COUNT; t++) {
		if (rename(g->g_out[t].o_tmp, g->g_out[t].o_path) == -1) {
			fprintf(stderr, GEN_PROG ": %s: %s\n",
			    g->g_out[t].o_path, strerror(errno));
			gen_discard(g);
			goto out_free;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	gen_summary(&st, (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	status = 0;

 out_free:
	for (t = 0; t < GT_COUNT; t++) {
		free(g->g_out[t].o_path);
		free(g->g_out[t].o_tmp);
	}
	free(g);
	return status;
}
