-- Cheaper index maintenance for bulk writes (tests/bench/import.py).
--
-- Most of what PostgreSQL spends storing a row beyond a plain COPY is
-- index maintenance: ids and patient references are random UUIDs, so
-- every insert descends to a random leaf.  Measured on 300,000 Claims
-- (INSERT ... SELECT, lz4 content): no index 3.1 s; primary key and the
-- two indexes of 001 9.4-9.9 s; with the changes below 7.6-7.8 s.
--
--  - COLLATE "C" on id and patient: FHIR ids are [A-Za-z0-9.-]
--    and compare as bytes.  Under the database's collation (C.UTF-8 in
--    the private cluster, en_US.UTF-8 on many servers) every btree
--    comparison went through strcoll; "C" is a memcmp, and id order no
--    longer depends on the server's locale.  Comparisons with columns
--    of the default collation keep working (the non-default one wins).
--  - The Patient compartment index becomes a hash index on patient: it
--    only answers patient = x (the cohort of a Patient- or Group-level
--    export), and a hash index stores a 4-byte hash instead of the type
--    and a 36-byte id, and needs no comparisons to insert.  Partitions
--    hold one type each, so the type column added nothing to it.
ALTER TABLE resources
	ALTER COLUMN id TYPE text COLLATE "C",
	ALTER COLUMN patient TYPE text COLLATE "C";

DROP INDEX resources_type_patient;
CREATE INDEX resources_by_patient ON resources USING hash (patient)
	WHERE patient IS NOT NULL;
