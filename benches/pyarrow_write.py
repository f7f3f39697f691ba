"""How long pyarrow takes just to write a run's telemetry and emissions rows to Parquet
(zstd, like wardtwin), the tables already in memory. Usage: pyarrow_write.py RUN_FOLDER [reps]"""
import sys, time, tempfile, os
import pyarrow.parquet as pq
run = sys.argv[1]
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
tables = {n: pq.read_table(os.path.join(run, n + ".parquet")) for n in ("telemetry", "emissions")}
rows = {n: t.num_rows for n, t in tables.items()}
best = float("inf")
with tempfile.TemporaryDirectory() as d:
    for _ in range(reps):
        t0 = time.perf_counter()
        for n, t in tables.items():
            pq.write_table(t, os.path.join(d, n + ".parquet"), compression="zstd")
        best = min(best, time.perf_counter() - t0)
print(f"rows {rows}; pyarrow write best of {reps}: {best:.2f} s")
