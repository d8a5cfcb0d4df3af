"""tests/bench/load — generate the demo dataset, then load it two ways.

  1. 'bulkhead generate --families N' (the issue asks for 200,000 families,
     over a million resources, in under a minute);
  2. 'bulkhead load DIR' into an empty store;
  3. the physical limit: the very rows step 2 stored, dumped in COPY form
     and fed back with a plain client-side COPY into the same empty table,
     in csv (what the issue's "raw COPY" is) and in binary (what
     'bulkhead load' sends since it stopped sending csv: the ratio against
     the binary COPY is the one that shows what is left to gain);
  4. the layout question: the same Claim NDJSON COPYed into a text column
     and into a jsonb column of a scratch table.

Prints resources/s, MB/s, peak RSS and the ratio load : raw COPY (the
target is at least 0.80).  Environment: BENCH_FAMILIES (default 200000),
BULKHEAD_DATABASE_URL (the cluster to use; scripts/bench.sh sets it).
"""
import os
import shutil
import subprocess
import sys

from common import BIN, ROOT, dir_bytes, fresh_db, peak_rss_mb, sql

CSV = "(FORMAT csv, DELIMITER E'\\x1f', QUOTE E'\\x1e')"
COLS = "(type, id, version, last_updated, patient, deleted, content)"


def psql(url, command, **kw):
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc",
                           command], check=True, **kw)


def main():
    families = int(os.environ.get("BENCH_FAMILIES", "200000"))
    admin = os.environ["BULKHEAD_DATABASE_URL"]
    work = os.path.join(ROOT, "var", "bench", "load")
    data = os.path.join(work, "data")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    dt, rss = peak_rss_mb([BIN, "generate", "--families", str(families),
                           "--seed", "7", "--out", data])
    nbytes = dir_bytes(data)
    print("generate: %d families, %.0f MB in %.1f s (%.0f MB/s), peak RSS "
          "%.1f MB" % (families, nbytes / 1e6, dt, nbytes / 1e6 / dt, rss))

    url = fresh_db(admin, "bulkhead_bench")
    env = dict(os.environ, BULKHEAD_DATABASE_URL=url)
    subprocess.run([BIN, "migrate"], env=env, check=True,
                   stdout=subprocess.DEVNULL)

    dump = os.path.join(work, "resources.copy")
    dumpbin = os.path.join(work, "resources.bin")
    best_load = best_raw = best_bin = None
    rows = 0
    for attempt in range(2):
        sql(url, "TRUNCATE resources")
        sql(url, "CHECKPOINT")
        dt, rss = peak_rss_mb([BIN, "load", data], env=env,
                              stdout=subprocess.DEVNULL)
        rows = sql(url, "SELECT count(*) FROM resources")[0][0]
        best_load = dt if best_load is None else min(best_load, dt)
        load_rss = rss
        if attempt == 0:
            psql(url, "\\copy (SELECT type, id, version, last_updated, "
                 "patient, deleted, content FROM resources) TO '%s' WITH %s"
                 % (dump, CSV))
            psql(url, "\\copy (SELECT type, id, version, last_updated, "
                 "patient, deleted, content FROM resources) TO '%s' WITH "
                 "(FORMAT binary)" % dumpbin)
        sql(url, "TRUNCATE resources")
        sql(url, "CHECKPOINT")
        dt, _ = peak_rss_mb(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc",
                             "\\copy resources %s FROM '%s' WITH %s"
                             % (COLS, dump, CSV)])
        best_raw = dt if best_raw is None else min(best_raw, dt)
        sql(url, "TRUNCATE resources")
        sql(url, "CHECKPOINT")
        dt, _ = peak_rss_mb(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc",
                             "\\copy resources %s FROM '%s' WITH "
                             "(FORMAT binary)" % (COLS, dumpbin)])
        best_bin = dt if best_bin is None else min(best_bin, dt)
    mb = nbytes / 1e6
    print("load:     %d resources, %.0f MB in %.1f s: %.0f resources/s, "
          "%.0f MB/s, peak RSS %.1f MB" % (rows, mb, best_load,
                                          rows / best_load, mb / best_load,
                                          load_rss))
    print("raw COPY csv: %d rows in %.1f s: %.0f rows/s, %.0f MB/s (the "
          "limit the issue names)" % (rows, best_raw, rows / best_raw,
                                      mb / best_raw))
    print("raw COPY binary: %d rows in %.1f s: %.0f rows/s, %.0f MB/s"
          % (rows, best_bin, rows / best_bin, mb / best_bin))
    print("ratio load speed / raw COPY csv speed: %.2f (target >= 0.80)"
          % (best_raw / best_load))
    print("ratio load speed / raw COPY binary speed: %.2f"
          % (best_bin / best_load))

    # The layout question, on the Claim file alone.
    claims = os.path.join(data, "Claim.ndjson")
    sql(url, "CREATE TABLE bench_text (content text COMPRESSION lz4); "
        "CREATE TABLE bench_jsonb (content jsonb COMPRESSION lz4)")
    res = {}
    for table in ("bench_text", "bench_jsonb"):
        dt, _ = peak_rss_mb(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc",
                             "\\copy %s FROM '%s' WITH %s" % (table, claims,
                                                               CSV)])
        res[table] = dt
        t0dt, _ = peak_rss_mb(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc",
                               "\\copy %s TO '/dev/null' WITH %s"
                               % (table, CSV)])
        res[table + "_out"] = t0dt
    cmb = os.path.getsize(claims) / 1e6
    print("layout (Claim, %.0f MB): COPY in text %.0f MB/s, jsonb %.0f MB/s; "
          "COPY out text %.0f MB/s, jsonb %.0f MB/s" % (
              cmb, cmb / res["bench_text"], cmb / res["bench_jsonb"],
              cmb / res["bench_text_out"], cmb / res["bench_jsonb_out"]))
    sql(admin, "DROP DATABASE IF EXISTS bulkhead_bench WITH (FORCE)")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
