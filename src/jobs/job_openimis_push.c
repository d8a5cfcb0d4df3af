/*
 * job_openimis_push.c — the "openimis-claims-push" job kind.
 *
 * params {"import": "<job id>"} (the Claim inputs of that $import, read
 * again line by line; the job waits while the import is queued or
 * running) or {"since": "<instant>"} (the store's Claims last updated
 * at or after it, in id order).  Each claim is POSTed to <openimis_url>/
 * Claim/ at the client's pace (openimis_client.h), one at a time, with
 * its claim code under the identifier type openimis_claim_code_type (a
 * code found under that type, "Code" or "MR" is moved there: servers
 * differ, OPENIMIS.md A1.3).
 *
 * Exactly once toward openIMIS: before the POST the ledger row (store/
 * openimis_store.h) of the claim code says 'sending'; after it,
 * 'accepted' with the ClaimResponse or 'refused' with the
 * OperationOutcome.  Claims go in batches of about a second's worth
 * (openimis_rps, 8 to 256, at most PUSH_BATCH_BYTES): one query checks
 * that the store holds them, one reads their ledger rows, and their
 * 'sending' rows are written in one transaction, so that one WAL flush
 * (not one per claim) makes them durable before the first POST; a crash
 * then costs at most a batch of look-ups.  The checkpoint {"seq": n} follows every claim, so
 * a resumed attempt (crash, takeover, pause) skips what is done, and a
 * claim found 'sending' is first looked up (GET Claim/?identifier=CODE):
 * found means openIMIS took it before the crash, so it is not POSTed
 * again.  A claim without a code is refused here, never sent.
 *
 * At the end the ledger becomes the job's files: ClaimResponse NDJSON
 * (channel output) and one OperationOutcome per refusal (channel error)
 * naming the claim id, its code, its source ("input N line L") and
 * openIMIS's own message.  Result {"accepted","refused","recovered",
 * "requests","retries","rate","rps","backoff","wait_s","latency_s"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bulk/fetch.h"
#include "bulk/outfile.h"
#include "core/cfg.h"
#include "jobs/job_openimis.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/fsutil.h"
#include "lib/lines.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xmalloc.h"
#include "openimis/openimis_bundle.h"
#include "openimis/openimis_client.h"
#include "store/db.h"
#include "store/job_files.h"
#include "store/jobq.h"
#include "store/ndjson.h"
#include "store/openimis_store.h"

#define PUSH_CODE_MAX	128
#define PUSH_BODY_MAX	(16 << 20)
#define PUSH_SAVE_S	1.0	/* progress at most this often */
#define PUSH_BATCH_MAX	256	/* claims in one batch */
#define PUSH_BATCH_BYTES (4 << 20)	/* their JSON, at most (but one) */

/* A claim of the batch in hand. */
struct push_item {
	char	*pi_line;
	size_t	 pi_len;
	char	*pi_source;	/* NULL: from the store (since) */
	int	 pi_stored;	/* 1, 0 (the import refused it), -1 unknown */
	int	 pi_reserved;	/* its 'sending' row is durable already */
	char	 pi_code[PUSH_CODE_MAX];	/* "" if none usable */
	char	 pi_id[80];
};

struct push {
	struct job_ctx		*u_ctx;
	struct openimis_client	*u_oi;
	PGconn			*u_conn;
	const struct cfg	*u_cfg;
	int64_t			 u_seq;		/* claims seen so far */
	int64_t			 u_done;	/* checkpointed seq */
	int64_t			 u_accepted;
	int64_t			 u_refused;
	int64_t			 u_recovered;
	int64_t			 u_sent;	/* POSTs this attempt */
	double			 u_t0;
	double			 u_saved;
	int			 u_files;	/* output files recorded */
	int			 u_file_idx;
	struct push_item	 u_batch[PUSH_BATCH_MAX];
	int			 u_nbatch;
	int			 u_batch_max;
	size_t			 u_batch_bytes;
	struct buf		 u_body;
	char			 u_err[1024];
};

static int	push_claim(struct push *, const char *, size_t, const char *,
		    const struct push_item *);
static int	push_queue(struct push *, const char *, size_t, const char *);
static int	push_flush(struct push *);
static void	push_batch_free(struct push *);
static const char *push_code(const cJSON *, const char *);
static int	push_recover(struct push *, const char *);
static int	push_stored(struct push *, const char *);
static int	push_save(struct push *, int);
static int	push_import(struct push *, const char *);
static int	push_since(struct push *, const char *);
static int	push_outputs(struct push *);
static const char *push_message(const char *, char *, size_t);

int
job_openimis_forward(struct job_ctx *ctx, cJSON *result)
{
	const cJSON		*fw;
	struct jobq_spec	 spec;
	PGconn			*conn;
	cJSON			*o;
	char			 params[96], id[JOBQ_ID_MAX], err[512];

	fw = cJSON_GetObjectItemCaseSensitive(job_ctx_params(ctx),
	    "forwardTo");
	if (!cJSON_IsString(fw) || strcmp(fw->valuestring, "openimis") != 0)
		return 0;
	if ((conn = job_ctx_conn(ctx, err, sizeof(err))) == NULL) {
		job_ctx_error(ctx, "forwardTo: %s", err);
		return -1;
	}
	snprintf(params, sizeof(params), "{\"import\":\"%s\"}",
	    job_ctx_id(ctx));
	memset(&spec, 0, sizeof(spec));
	spec.s_kind = "openimis-claims-push";
	spec.s_params = params;
	spec.s_client = job_ctx_client(ctx);
	spec.s_max_attempts = job_ctx_cfg(ctx)->job_max_attempts;
	if (jobq_submit(conn, &spec, id, sizeof(id), err, sizeof(err)) == -1) {
		job_ctx_error(ctx, "forwardTo: %s", err);
		return -1;
	}
	log_info("job %s: claims forwarded to openIMIS by job %s",
	    job_ctx_id(ctx), id);
	o = cJSON_AddObjectToObject(result, "forwardedTo");
	cJSON_AddStringToObject(o, "openimis", id);
	return 0;
}

int
job_openimis_push_check(const cJSON *params, char *errbuf, size_t errlen)
{
	const cJSON	*item, *imp, *since;

	cJSON_ArrayForEach(item, params)
		if (strcmp(item->string, "import") != 0 &&
		    strcmp(item->string, "since") != 0) {
			snprintf(errbuf, errlen, "openimis-claims-push: unknown "
			    "parameter \"%.64s\"", item->string);
			return -1;
		}
	imp = cJSON_GetObjectItemCaseSensitive(params, "import");
	since = cJSON_GetObjectItemCaseSensitive(params, "since");
	if ((imp == NULL) == (since == NULL)) {
		snprintf(errbuf, errlen, "openimis-claims-push: give either "
		    "\"import\" (a job id) or \"since\" (an instant)");
		return -1;
	}
	if (imp != NULL && (!cJSON_IsString(imp) ||
	    strlen(imp->valuestring) != 32 ||
	    strspn(imp->valuestring, "0123456789abcdef") != 32)) {
		snprintf(errbuf, errlen, "openimis-claims-push: \"import\" "
		    "must be a job id");
		return -1;
	}
	if (since != NULL && (!cJSON_IsString(since) ||
	    !ndjson_valid_instant(since->valuestring,
	    strlen(since->valuestring)))) {
		snprintf(errbuf, errlen, "openimis-claims-push: \"since\" "
		    "must be a FHIR instant");
		return -1;
	}
	return 0;
}

/* openIMIS's message from an OperationOutcome (or the body's start). */
static const char *
push_message(const char *body, char *out, size_t outlen)
{
	cJSON		*j = cJSON_Parse(body);
	const cJSON	*iss, *d, *t;

	iss = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "issue"),
	    0);
	d = cJSON_GetObjectItemCaseSensitive(iss, "details");
	t = cJSON_GetObjectItemCaseSensitive(d, "text");
	if (!cJSON_IsString(t))
		t = cJSON_GetObjectItemCaseSensitive(iss, "diagnostics");
	snprintf(out, outlen, "%.400s", cJSON_IsString(t) ? t->valuestring :
	    body);
	cJSON_Delete(j);
	return out;
}

/* Saves progress and the checkpoint {"seq": u_seq} (force: now). */
static int
push_save(struct push *u, int force)
{
	char	pr[192], cp[96];
	double	now = clock_mono();

	if (!force && now - u->u_saved < PUSH_SAVE_S)
		return job_ctx_tick(u->u_ctx);
	u->u_saved = now;
	snprintf(pr, sizeof(pr), "{\"done\":%lld,\"accepted\":%lld,"
	    "\"refused\":%lld}", (long long)u->u_seq,
	    (long long)u->u_accepted, (long long)u->u_refused);
	snprintf(cp, sizeof(cp), "{\"seq\":%lld}", (long long)u->u_seq);
	return job_ctx_save(u->u_ctx, pr, cp);
}

/*
 * u_body holds the Claim openIMIS has under code (a POST that got there
 * before a crash): replaces it by that claim's ClaimResponse (GET
 * ClaimResponse/<uuid>, the module's adjudication view), or keeps the
 * Claim when there is none.  0, -1 or OPENIMIS_STOP.
 */
static int
push_recover(struct push *u, const char *code)
{
	cJSON		*c;
	const cJSON	*id;
	char		 q[128], *claim;
	long		 status = 0;
	int		 rc = 0;

	claim = xstrdup(u->u_body.b_data != NULL ? u->u_body.b_data : "");
	c = cJSON_Parse(claim);
	id = cJSON_GetObjectItemCaseSensitive(c, "id");
	if (cJSON_IsString(id) && ndjson_valid_id(id->valuestring,
	    strlen(id->valuestring))) {
		snprintf(q, sizeof(q), "ClaimResponse/%s", id->valuestring);
		rc = openimis_client_get(u->u_oi, q, &u->u_body, &status, NULL,
		    u->u_err, sizeof(u->u_err));
		if (rc == 0 && status != 200) {
			/* Keep the Claim as the record. */
			log_warnx("job %s: claim %s: no ClaimResponse (HTTP "
			    "%ld)", job_ctx_id(u->u_ctx), code, status);
			buf_reset(&u->u_body);
			(void)buf_puts(&u->u_body, claim);
		}
	}
	cJSON_Delete(c);
	free(claim);
	return rc;
}

/* 1 if the store holds Claim id, 0 if not, -1 on error (u_err). */
static int
push_stored(struct push *u, const char *id)
{
	const char	*p[1] = { id };
	PGresult	*res;
	int		 n;

	if ((res = db_query(u->u_conn, "SELECT 1 FROM resources WHERE type = "
	    "'Claim' AND id = $1 AND NOT deleted", 1, p, u->u_err,
	    sizeof(u->u_err))) == NULL)
		return -1;
	n = PQntuples(res);
	PQclear(res);
	return n > 0;
}

/* The claim's usable code (under want, "Code" or "MR"), or NULL. */
static const char *
push_code(const cJSON *c, const char *want)
{
	const char	*code;

	if ((code = openimis_identifier(c, want)) == NULL &&
	    (code = openimis_identifier(c, "Code")) == NULL)
		code = openimis_identifier(c, "MR");
	if (code == NULL || *code == '\0' || strlen(code) >= PUSH_CODE_MAX ||
	    strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._") != strlen(code))
		return NULL;
	return code;
}

/*
 * One claim (a JSON line) from source.  hint (may be NULL) is what the
 * batch learnt already: whether the store holds it, and whether its
 * 'sending' row was written.  0 (handled, or done before), -1 (u_err;
 * retry the job later) or OPENIMIS_STOP.
 */
static int
push_claim(struct push *u, const char *line, size_t len, const char *source,
    const struct push_item *hint)
{
	enum openimis_push_state	 st;
	cJSON				*c = NULL, *ids, *idn, *ty, *cd;
	const cJSON			*idv;
	const char			*code, *job = job_ctx_id(u->u_ctx);
	const char			*want = u->u_cfg->openimis_claim_code_type;
	char				 cbuf[PUSH_CODE_MAX], claim_id[80];
	char				 q[PUSH_CODE_MAX * 3 + 32], msg[512];
	char				*out = NULL;
	struct buf			 ob;
	long				 status = 0;
	int				 rc = -1;

	u->u_seq++;
	if (u->u_seq <= u->u_done)
		return 0;
	if ((c = cJSON_ParseWithLength(line, len)) == NULL ||
	    !cJSON_IsObject(c)) {
		/* The import refused it too: nothing to send. */
		rc = 0;
		goto out;
	}
	idv = cJSON_GetObjectItemCaseSensitive(c, "id");
	snprintf(claim_id, sizeof(claim_id), "%.64s", cJSON_IsString(idv) ?
	    idv->valuestring : "");
	if (source != NULL) {
		/* Only what the import stored: a line it refused is in its
		 * own error file already. */
		if (hint != NULL && hint->pi_stored >= 0)
			rc = hint->pi_stored;
		else
			rc = push_stored(u, claim_id);
		if (rc != 1)
			goto out;
		rc = -1;
	}
	if ((code = push_code(c, want)) == NULL) {
		/* Refused here; keyed by seq, as there is no code. */
		snprintf(cbuf, sizeof(cbuf), "#%lld", (long long)u->u_seq);
		buf_init(&ob, 1 << 16);
		(void)buf_puts(&ob, "{\"resourceType\":\"OperationOutcome\","
		    "\"issue\":[{\"severity\":\"error\",\"code\":\"required\","
		    "\"details\":{\"text\":\"no usable claim code (an "
		    "identifier typed ");
		(void)buf_json_escape(&ob, want, strlen(want));
		(void)buf_puts(&ob, ", Code or MR)\"}}]}");
		rc = openimis_store_push_set(u->u_conn, job, cbuf, u->u_seq,
		    claim_id, source, OPENIMIS_PUSH_REFUSED, 0, ob.b_data,
		    u->u_err, sizeof(u->u_err));
		buf_free(&ob);
		if (rc == 0)
			u->u_refused++;
		goto out;
	}
	str_lcpy(cbuf, code, sizeof(cbuf));
	if (hint != NULL && hint->pi_reserved)
		st = OPENIMIS_PUSH_NONE;
	else if (openimis_store_push_get(u->u_conn, job, cbuf, &st, u->u_err,
	    sizeof(u->u_err)) == -1)
		goto out;
	if (st == OPENIMIS_PUSH_ACCEPTED || st == OPENIMIS_PUSH_REFUSED) {
		rc = 0;
		goto out;
	}
	if (st == OPENIMIS_PUSH_SENDING) {
		/* A POST may have reached openIMIS before the crash. */
		snprintf(q, sizeof(q), "Claim/?identifier=%s", cbuf);
		if ((rc = openimis_client_get(u->u_oi, q, &u->u_body, &status,
		    NULL, u->u_err, sizeof(u->u_err))) != 0)
			goto out;
		rc = -1;
		if (status == 200) {
			if ((rc = push_recover(u, cbuf)) != 0)
				goto out;
			rc = -1;
			if (openimis_store_push_set(u->u_conn, job, cbuf,
			    u->u_seq, claim_id, source, OPENIMIS_PUSH_ACCEPTED,
			    (int)status, u->u_body.b_data, u->u_err,
			    sizeof(u->u_err)) == -1)
				goto out;
			u->u_accepted++;
			u->u_recovered++;
			rc = 0;
			goto out;
		}
		if (status != 404) {
			snprintf(u->u_err, sizeof(u->u_err), "openIMIS GET "
			    "Claim?identifier: HTTP %ld", status);
			goto out;
		}
	}
	/* The code under the type this server expects, once. */
	ids = cJSON_GetObjectItemCaseSensitive(c, "identifier");
	if (!cJSON_IsArray(ids)) {
		cJSON_DeleteItemFromObjectCaseSensitive(c, "identifier");
		ids = cJSON_AddArrayToObject(c, "identifier");
	}
	if (openimis_identifier(c, want) == NULL) {
		idn = cJSON_CreateObject();
		ty = cJSON_AddObjectToObject(idn, "type");
		cd = cJSON_CreateObject();
		cJSON_AddStringToObject(cd, "system", "https://openimis.github."
		    "io/openimis_fhir_r4_ig/CodeSystem/openimis-identifiers");
		cJSON_AddStringToObject(cd, "code", want);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(ty, "coding"), cd);
		cJSON_AddStringToObject(idn, "use", "usual");
		cJSON_AddStringToObject(idn, "value", cbuf);
		cJSON_AddItemToArray(ids, idn);
	}
	if ((out = cJSON_PrintUnformatted(c)) == NULL) {
		snprintf(u->u_err, sizeof(u->u_err), "out of memory");
		goto out;
	}
	if ((hint == NULL || !hint->pi_reserved) &&
	    openimis_store_push_set(u->u_conn, job, cbuf, u->u_seq, claim_id,
	    source, OPENIMIS_PUSH_SENDING, 0, NULL, u->u_err,
	    sizeof(u->u_err)) == -1)
		goto out;
	u->u_sent++;
	if ((rc = openimis_client_post(u->u_oi, "Claim/", out, strlen(out),
	    &u->u_body, &status, u->u_err, sizeof(u->u_err))) != 0)
		goto out;
	rc = -1;
	if (status == 200 || status == 201) {
		st = OPENIMIS_PUSH_ACCEPTED;
		u->u_accepted++;
	} else if (status >= 400 && status < 500 && status != 401 &&
	    status != 403 && status != 429) {
		st = OPENIMIS_PUSH_REFUSED;
		u->u_refused++;
		log_debug("job %s: openIMIS refused claim %s (%s): %s", job,
		    cbuf, source != NULL ? source : "store",
		    push_message(u->u_body.b_data != NULL ? u->u_body.b_data :
		    "", msg, sizeof(msg)));
	} else {
		/* 401/403: the user lacks rights (claim perms 111002 and
		 * 111007); 5xx after the retries: openIMIS is not well.
		 * Stays 'sending': the next attempt looks it up first. */
		snprintf(u->u_err, sizeof(u->u_err), "openIMIS POST Claim "
		    "%s: HTTP %ld: %.300s", cbuf, status, u->u_body.b_data !=
		    NULL ? u->u_body.b_data : "");
		goto out;
	}
	if (openimis_store_push_set(u->u_conn, job, cbuf, u->u_seq, claim_id,
	    source, st, (int)status, u->u_body.b_data != NULL ?
	    u->u_body.b_data : "", u->u_err, sizeof(u->u_err)) == -1)
		goto out;
	rc = 0;
 out:
	free(out);
	cJSON_Delete(c);
	if (rc == 0 && push_save(u, 0) == -1)
		rc = OPENIMIS_STOP;
	return rc;
}

static void
push_batch_free(struct push *u)
{
	int	i;

	for (i = 0; i < u->u_nbatch; i++) {
		free(u->u_batch[i].pi_line);
		free(u->u_batch[i].pi_source);
	}
	u->u_nbatch = 0;
	u->u_batch_bytes = 0;
}

/*
 * Queues one claim (copied); a full batch is flushed.  Claims an earlier
 * attempt finished are counted and dropped here.  As push_claim.
 */
static int
push_queue(struct push *u, const char *line, size_t len, const char *source)
{
	struct push_item	*it;

	if (u->u_nbatch == 0 && u->u_seq < u->u_done) {
		u->u_seq++;
		return 0;
	}
	it = &u->u_batch[u->u_nbatch++];
	memset(it, 0, sizeof(*it));
	it->pi_line = xmalloc(len + 1);
	memcpy(it->pi_line, line, len);
	it->pi_line[len] = '\0';
	it->pi_len = len;
	it->pi_source = source != NULL ? xstrdup(source) : NULL;
	it->pi_stored = -1;
	u->u_batch_bytes += len;
	if (u->u_nbatch < u->u_batch_max && u->u_batch_bytes <
	    PUSH_BATCH_BYTES)
		return 0;
	return push_flush(u);
}

/*
 * Sends the batch: which claims the store holds (one query), their
 * ledger rows (one query), the 'sending' rows of those never tried (one
 * statement, committed durably), then each claim in order.  As
 * push_claim.
 */
static int
push_flush(struct push *u)
{
	enum openimis_push_state	 st[PUSH_BATCH_MAX];
	const char			*codes[PUSH_BATCH_MAX], *p[1], *code;
	struct push_item		*it;
	struct buf			 ids;
	PGresult			*res = NULL;
	cJSON				*c;
	const cJSON			*idv;
	const char			*rcodes[PUSH_BATCH_MAX];
	const char			*rids[PUSH_BATCH_MAX];
	const char			*rsrc[PUSH_BATCH_MAX];
	int64_t				 rseqs[PUSH_BATCH_MAX];
	int				 idx[PUSH_BATCH_MAX];
	int				 i, k, n = 0, nr, nid = 0, rc = -1;
	const char			*job = job_ctx_id(u->u_ctx);

	buf_init(&ids, (size_t)1 << 26);
	(void)buf_putc(&ids, '{');
	for (i = 0; i < u->u_nbatch; i++) {
		it = &u->u_batch[i];
		if ((c = cJSON_ParseWithLength(it->pi_line, it->pi_len)) ==
		    NULL || !cJSON_IsObject(c)) {
			cJSON_Delete(c);
			continue;	/* push_claim skips it */
		}
		idv = cJSON_GetObjectItemCaseSensitive(c, "id");
		if (cJSON_IsString(idv) && ndjson_valid_id(idv->valuestring,
		    strlen(idv->valuestring)) && strlen(idv->valuestring) <
		    sizeof(it->pi_id)) {
			str_lcpy(it->pi_id, idv->valuestring,
			    sizeof(it->pi_id));
			if (it->pi_source != NULL) {
				/* Valid ids need no quoting in an array. */
				(void)buf_puts(&ids, nid++ ? "," : "");
				(void)buf_puts(&ids, it->pi_id);
			}
		} else if (it->pi_source != NULL)
			it->pi_stored = 0;	/* the import refused it */
		if (it->pi_source == NULL)
			it->pi_stored = 1;
		if ((code = push_code(c, u->u_cfg->openimis_claim_code_type)) !=
		    NULL)
			str_lcpy(it->pi_code, code, sizeof(it->pi_code));
		cJSON_Delete(c);
	}
	(void)buf_putc(&ids, '}');
	if (nid > 0) {
		p[0] = ids.b_data;
		if ((res = db_query(u->u_conn, "SELECT id FROM resources WHERE "
		    "type = 'Claim' AND id = ANY($1::text[]) AND NOT deleted", 1,
		    p, u->u_err, sizeof(u->u_err))) == NULL)
			goto out;
		for (i = 0; i < u->u_nbatch; i++) {
			it = &u->u_batch[i];
			if (it->pi_source == NULL || it->pi_stored == 0 ||
			    it->pi_id[0] == '\0')
				continue;
			it->pi_stored = 0;
			for (k = 0; k < PQntuples(res); k++)
				if (strcmp(it->pi_id, PQgetvalue(res, k, 0)) ==
				    0) {
					it->pi_stored = 1;
					break;
				}
		}
		PQclear(res);
		res = NULL;
	}
	/* Claims to reserve: stored, with a code, first of their code in
	 * the batch (a repeat waits for the first's outcome), no row. */
	for (i = 0; i < u->u_nbatch; i++) {
		it = &u->u_batch[i];
		if (it->pi_stored != 1 || it->pi_code[0] == '\0')
			continue;
		for (k = 0; k < n; k++)
			if (strcmp(codes[k], it->pi_code) == 0)
				break;
		if (k < n) {
			idx[k] = -1;	/* repeated: neither is reserved */
			continue;
		}
		codes[n] = it->pi_code;
		idx[n++] = i;
	}
	if (openimis_store_push_states(u->u_conn, job, codes, (size_t)n, st,
	    u->u_err, sizeof(u->u_err)) == -1)
		goto out;
	for (k = 0, nr = 0; k < n; k++) {
		if (idx[k] < 0 || st[k] != OPENIMIS_PUSH_NONE)
			continue;
		it = &u->u_batch[idx[k]];
		rcodes[nr] = it->pi_code;
		rseqs[nr] = u->u_seq + 1 + idx[k];
		rids[nr] = it->pi_id;
		rsrc[nr++] = it->pi_source;
	}
	if (openimis_store_push_reserve(u->u_conn, job, (size_t)nr, rcodes,
	    rseqs, rids, rsrc, u->u_err, sizeof(u->u_err)) == -1)
		goto out;
	for (k = 0; k < n; k++)
		if (idx[k] >= 0 && st[k] == OPENIMIS_PUSH_NONE)
			u->u_batch[idx[k]].pi_reserved = 1;
	for (i = 0; i < u->u_nbatch; i++) {
		it = &u->u_batch[i];
		if ((rc = push_claim(u, it->pi_line, it->pi_len, it->pi_source,
		    it)) != 0)
			goto out;
	}
	rc = 0;
 out:
	PQclear(res);
	buf_free(&ids);
	push_batch_free(u);
	return rc;
}

/* The Claim inputs of import job id, waiting for it to finish. */
static int
push_import(struct push *u, const char *id)
{
	struct fetch_opts	 fo;
	struct fetch		*f = NULL;
	struct lines		 ln;
	struct jobq_job		*j = NULL;
	cJSON			*params = NULL;
	const cJSON		*in, *ty, *url;
	const char		*line;
	char			 src[64];
	size_t			 len;
	int64_t			 lineno;
	enum lines_status	 ls;
	int			 n = 0, rc = -1, inited = 0;

	for (;;) {
		jobq_job_free(j);
		j = NULL;
		if (jobq_get(u->u_conn, id, &j, u->u_err,
		    sizeof(u->u_err)) == -1)
			goto out;
		if (j == NULL || strcmp(j->j_kind, "import") != 0) {
			snprintf(u->u_err, sizeof(u->u_err), "no import job %s",
			    id);
			rc = -3;
			goto out;
		}
		if (j->j_state == JOBQ_COMPLETED)
			break;
		if (j->j_state == JOBQ_FAILED || j->j_state ==
		    JOBQ_CANCELLED || j->j_state == JOBQ_CANCELLING) {
			snprintf(u->u_err, sizeof(u->u_err), "import %s ended "
			    "without completing: nothing to push", id);
			rc = -3;
			goto out;
		}
		if (job_ctx_sleep(u->u_ctx, 1000) == -1) {
			rc = OPENIMIS_STOP;
			goto out;
		}
	}
	params = cJSON_Parse(j->j_params);
	memset(&fo, 0, sizeof(fo));
	fo.fo_allow = u->u_cfg->import_allow;
	fo.fo_import_dir = u->u_cfg->import_dir;
	fo.fo_connect_timeout = u->u_cfg->import_connect_timeout;
	fo.fo_stall_timeout = u->u_cfg->import_stall_timeout;
	fo.fo_max_redirects = 5;
	cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(params,
	    "inputs")) {
		n++;
		ty = cJSON_GetObjectItemCaseSensitive(in, "type");
		url = cJSON_GetObjectItemCaseSensitive(in, "url");
		if (!cJSON_IsString(ty) || strcmp(ty->valuestring, "Claim") !=
		    0 || !cJSON_IsString(url))
			continue;
		if ((f = fetch_open(&fo, url->valuestring, NULL, u->u_err,
		    sizeof(u->u_err))) == NULL)
			goto out;
		lines_init(&ln, fetch_read, f, (size_t)u->u_cfg->import_max_line);
		inited = 1;
		lineno = 0;
		while ((ls = lines_next(&ln, &line, &len)) == LINES_OK ||
		    ls == LINES_TOOLONG) {
			lineno++;
			if (ls == LINES_TOOLONG || len == 0)
				continue;
			snprintf(src, sizeof(src), "input %d line %lld", n,
			    (long long)lineno);
			if ((rc = push_queue(u, line, len, src)) != 0)
				goto out;
		}
		if ((rc = push_flush(u)) != 0)
			goto out;
		rc = -1;
		if (ls != LINES_EOF) {
			snprintf(u->u_err, sizeof(u->u_err), "reading input %d "
			    "again: %s", n, fetch_error(f));
			goto out;
		}
		lines_free(&ln);
		inited = 0;
		fetch_close(f);
		f = NULL;
	}
	rc = 0;
 out:
	if (inited)
		lines_free(&ln);
	fetch_close(f);
	cJSON_Delete(params);
	jobq_job_free(j);
	return rc;
}

/* The store's Claims updated since, in id order, a page at a time. */
static int
push_since(struct push *u, const char *since)
{
	const char	*p[2];
	char		 after[80] = "";
	PGresult	*res = NULL;
	int		 i, n, rc = 0;

	do {
		p[0] = since;
		p[1] = after;
		if ((res = db_query(u->u_conn, "SELECT id, content FROM "
		    "resources WHERE type = 'Claim' AND NOT deleted AND "
		    "last_updated >= $1 AND id > $2 ORDER BY id LIMIT 500", 2,
		    p, u->u_err, sizeof(u->u_err))) == NULL)
			return -1;
		n = PQntuples(res);
		for (i = 0; i < n && rc == 0; i++)
			rc = push_queue(u, PQgetvalue(res, i, 1),
			    (size_t)PQgetlength(res, i, 1), NULL);
		if (rc == 0)
			rc = push_flush(u);
		if (n > 0)
			str_lcpy(after, PQgetvalue(res, n - 1, 0),
			    sizeof(after));
		PQclear(res);
	} while (n == 500 && rc == 0);
	return rc;
}

struct push_out {
	struct push		*po_u;
	struct outfile_set	*po_resp;
	struct outfile_set	*po_err;
	int			 po_error;	/* which set is completing */
	struct buf		 po_line;
};

/* outfile_done_fn: records a file unless an earlier attempt did. */
static int
push_file_done(void *arg, const struct outfile_info *info, char *errbuf,
    size_t errlen)
{
	struct push_out		*po = arg;
	struct push		*u = po->po_u;
	struct jobq_output	 o;
	char			 rel[1024], cp[128];

	if (++u->u_file_idx <= u->u_files)
		return 0;
	if (job_files_rel(job_ctx_id(u->u_ctx), info->oi_name, rel,
	    sizeof(rel)) == -1) {
		snprintf(errbuf, errlen, "file name too long");
		return -1;
	}
	memset(&o, 0, sizeof(o));
	o.o_channel = po->po_error ? "error" : "output";
	o.o_type = po->po_error ? "OperationOutcome" : "ClaimResponse";
	o.o_file = rel;
	o.o_count = info->oi_count;
	o.o_bytes = info->oi_stored_bytes;
	o.o_checksum = info->oi_sha256;
	snprintf(cp, sizeof(cp), "{\"seq\":%lld,\"files\":%d}",
	    (long long)u->u_seq, u->u_file_idx);
	if (job_ctx_output(u->u_ctx, &o, cp) == -1) {
		snprintf(errbuf, errlen, "recording the output failed");
		return -1;
	}
	u->u_files = u->u_file_idx;
	return 0;
}

static int
push_row(void *arg, enum openimis_push_state st, const char *code,
    const char *claim_id, const char *source, int http_status,
    const char *response)
{
	struct push_out	*po = arg;
	struct push	*u = po->po_u;
	char		 msg[512];
	cJSON		*j;
	char		*compact;
	int		 rc;

	if (st == OPENIMIS_PUSH_ACCEPTED) {
		/* Compact, one line, whatever openIMIS's formatting. */
		if ((j = cJSON_Parse(response)) == NULL)
			return 0;
		compact = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		po->po_error = 0;
		rc = outfile_set_write(po->po_resp, compact, strlen(compact),
		    u->u_err, sizeof(u->u_err));
		free(compact);
		return rc;
	}
	buf_reset(&po->po_line);
	(void)buf_puts(&po->po_line, "{\"resourceType\":\"OperationOutcome\","
	    "\"issue\":[{\"severity\":\"error\",\"code\":\"processing\","
	    "\"diagnostics\":\"");
	(void)buf_printf(&po->po_line, "openIMIS refused claim ");
	(void)buf_json_escape(&po->po_line, claim_id, strlen(claim_id));
	(void)buf_puts(&po->po_line, " (code ");
	(void)buf_json_escape(&po->po_line, code, strlen(code));
	if (source != NULL) {
		(void)buf_puts(&po->po_line, ", ");
		(void)buf_json_escape(&po->po_line, source, strlen(source));
	}
	if (http_status > 0)
		(void)buf_printf(&po->po_line, ", HTTP %d", http_status);
	(void)buf_puts(&po->po_line, "): ");
	push_message(response, msg, sizeof(msg));
	(void)buf_json_escape(&po->po_line, msg, strlen(msg));
	(void)buf_puts(&po->po_line, "\"");
	(void)buf_puts(&po->po_line, ",\"expression\":[\"Claim/");
	(void)buf_json_escape(&po->po_line, claim_id, strlen(claim_id));
	(void)buf_puts(&po->po_line, "\"]}]}");
	po->po_error = 1;
	return outfile_set_write(po->po_err, po->po_line.b_data,
	    po->po_line.b_len, u->u_err, sizeof(u->u_err));
}

/* Writes the ledger out as the job's files. */
static int
push_outputs(struct push *u)
{
	struct push_out	 po;
	char		 rel[1024], dir[2048];
	int		 rc = -1;

	memset(&po, 0, sizeof(po));
	po.po_u = u;
	buf_init(&po.po_line, 1 << 20);
	if (job_files_dir(job_ctx_id(u->u_ctx), rel, sizeof(rel)) == -1 ||
	    job_files_path(u->u_cfg->data_dir, rel, dir, sizeof(dir)) == -1 ||
	    fs_mkdirs(dir) == -1) {
		snprintf(u->u_err, sizeof(u->u_err), "cannot make %.900s", rel);
		goto out;
	}
	u->u_file_idx = 0;
	if ((po.po_resp = outfile_set_open(dir, "ClaimResponse", 1,
	    u->u_cfg->export_file_resources, u->u_cfg->export_file_bytes,
	    u->u_cfg->zstd_level, push_file_done, &po, u->u_err,
	    sizeof(u->u_err))) == NULL ||
	    (po.po_err = outfile_set_open(dir, "errors", 1,
	    u->u_cfg->export_file_resources, u->u_cfg->export_file_bytes,
	    u->u_cfg->zstd_level, push_file_done, &po, u->u_err,
	    sizeof(u->u_err))) == NULL)
		goto out;
	if (openimis_store_push_each(u->u_conn, job_ctx_id(u->u_ctx),
	    push_row, &po, u->u_err, sizeof(u->u_err)) == -1)
		goto out;
	po.po_error = 0;
	if (outfile_set_close_current(po.po_resp, u->u_err,
	    sizeof(u->u_err)) == -1)
		goto out;
	po.po_error = 1;
	if (outfile_set_close_current(po.po_err, u->u_err,
	    sizeof(u->u_err)) == -1)
		goto out;
	rc = 0;
 out:
	outfile_set_free(po.po_resp);
	outfile_set_free(po.po_err);
	buf_free(&po.po_line);
	return rc;
}

enum job_status
job_openimis_push_run(struct job_ctx *ctx)
{
	struct push		*u;
	struct openimis_stats	 os;
	const cJSON		*imp, *since, *cp, *v;
	char			 res[512];
	double			 el;
	int			 rc;
	enum job_status		 js = JOB_RETRY;

	u = xcalloc(1, sizeof(*u));
	u->u_ctx = ctx;
	u->u_cfg = job_ctx_cfg(ctx);
	u->u_t0 = u->u_saved = clock_mono();
	u->u_batch_max = u->u_cfg->openimis_rps < 8 ? 8 :
	    u->u_cfg->openimis_rps > PUSH_BATCH_MAX ? PUSH_BATCH_MAX :
	    u->u_cfg->openimis_rps;
	buf_init(&u->u_body, PUSH_BODY_MAX);
	if ((u->u_oi = job_openimis_client(ctx, u->u_err,
	    sizeof(u->u_err))) == NULL) {
		job_ctx_error(ctx, "openimis-claims-push: %s", u->u_err);
		js = JOB_FAIL;
		goto out;
	}
	if ((u->u_conn = job_ctx_conn(ctx, u->u_err, sizeof(u->u_err))) ==
	    NULL) {
		job_ctx_error(ctx, "%s", u->u_err);
		goto out;
	}
	if ((cp = job_ctx_checkpoint(ctx)) != NULL) {
		v = cJSON_GetObjectItemCaseSensitive(cp, "seq");
		if (cJSON_IsNumber(v) && v->valuedouble >= 0)
			u->u_done = (int64_t)v->valuedouble;
		v = cJSON_GetObjectItemCaseSensitive(cp, "files");
		if (cJSON_IsNumber(v) && v->valuedouble >= 0)
			u->u_files = (int)v->valuedouble;
	}
	if (openimis_store_push_counts(u->u_conn, job_ctx_id(ctx),
	    &u->u_accepted, &u->u_refused, u->u_err, sizeof(u->u_err)) == -1) {
		job_ctx_error(ctx, "%s", u->u_err);
		goto out;
	}
	imp = cJSON_GetObjectItemCaseSensitive(job_ctx_params(ctx), "import");
	since = cJSON_GetObjectItemCaseSensitive(job_ctx_params(ctx), "since");
	if (cJSON_IsString(imp))
		rc = push_import(u, imp->valuestring);
	else
		rc = push_since(u, cJSON_GetStringValue(since));
	if (rc == OPENIMIS_STOP || job_ctx_stopping(ctx)) {
		js = JOB_STOPPED;
		goto out;
	}
	if (rc != 0) {
		job_ctx_error(ctx, "openimis-claims-push: %s", u->u_err);
		js = rc == -3 ? JOB_FAIL : JOB_RETRY;
		goto out;
	}
	if (push_save(u, 1) == -1) {
		js = JOB_STOPPED;
		goto out;
	}
	if (push_outputs(u) == -1) {
		if (job_ctx_stopping(ctx)) {
			js = JOB_STOPPED;
			goto out;
		}
		job_ctx_error(ctx, "openimis-claims-push: %s", u->u_err);
		goto out;
	}
	/* The ledger is the truth: a claim recorded just before a crash
	 * (after the last checkpoint) must not count twice. */
	if (openimis_store_push_counts(u->u_conn, job_ctx_id(ctx),
	    &u->u_accepted, &u->u_refused, u->u_err, sizeof(u->u_err)) == -1) {
		job_ctx_error(ctx, "%s", u->u_err);
		goto out;
	}
	openimis_client_stats(u->u_oi, &os);
	el = clock_mono() - u->u_t0;
	snprintf(res, sizeof(res), "{\"claims\":%lld,\"accepted\":%lld,"
	    "\"refused\":%lld,\"recovered\":%lld,\"posted\":%lld,"
	    "\"requests\":%lld,\"retries\":%lld,\"rate\":%.2f,\"rps\":%d,"
	    "\"backoff\":%.2f,\"wait_s\":%.1f,\"latency_s\":%.1f}",
	    (long long)u->u_seq, (long long)u->u_accepted,
	    (long long)u->u_refused, (long long)u->u_recovered,
	    (long long)u->u_sent, (long long)os.os_requests,
	    (long long)os.os_retries, el > 0 ? (double)os.os_requests / el :
	    0.0, u->u_cfg->openimis_rps, os.os_factor, os.os_wait_s,
	    os.os_latency_s);
	job_ctx_result(ctx, res);
	js = JOB_DONE;
 out:
	push_batch_free(u);
	openimis_client_free(u->u_oi);
	buf_free(&u->u_body);
	free(u);
	return js;
}
