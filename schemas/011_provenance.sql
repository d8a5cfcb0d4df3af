-- Provenance in a partition of its own (includeAssociatedData, issue 11).
--
-- An export that asks for associated data reads every Provenance once
-- (each target checked against the exported rows through their primary
-- key), so the Provenance should not be mixed with the other types of
-- the default partition.  Rows already loaded move over; exports that do
-- not ask for associated data never read this partition (a system
-- export without _type reads it as one more type, as before).
CREATE TEMP TABLE provenance_move ON COMMIT DROP AS
	SELECT * FROM resources_other WHERE type = 'Provenance';
DELETE FROM resources_other WHERE type = 'Provenance';
CREATE TABLE resources_provenance PARTITION OF resources
	FOR VALUES IN ('Provenance');
INSERT INTO resources SELECT * FROM provenance_move;
