-- The Provenance that targets given resources (includeAssociatedData and
-- EXP-P-IA-5, issue 11): an index over each Provenance's targets, so that
-- a cohort export (a Group, a list of patients) finds the Provenance of
-- its few resources without reading every Provenance.  System- and
-- Patient-level exports still read the partition once (job_export_plan.c
-- chooses).
--
-- A target's key is "Type/id", as the export matches it: the first two
-- segments of Provenance.target[].reference, so a version-specific
-- "Claim/1/_history/2" is found as "Claim/1".  IMMUTABLE: it reads
-- only its argument (text to jsonb is immutable), so it may index.
CREATE FUNCTION provenance_targets(content text) RETURNS text[]
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT coalesce(array_agg(DISTINCT split_part(t->>'reference', '/', 1)
	    || '/' || split_part(t->>'reference', '/', 2)), '{}')
	FROM jsonb_array_elements(CASE WHEN jsonb_typeof($1::jsonb->'target')
	    = 'array' THEN $1::jsonb->'target' ELSE '[]' END) t
	WHERE t->>'reference' IS NOT NULL
$$;
CREATE INDEX resources_provenance_targets ON resources_provenance
	USING gin (provenance_targets(content));
