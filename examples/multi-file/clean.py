"""Drops outliers from the ingest task's raw.csv and writes clean.csv."""
import csv
import os
from pathlib import Path

inputs = Path(os.environ.get("CELLPIPE_INPUT_DIR", "out"))
out_dir = Path(os.environ.get("CELLPIPE_OUTPUT_DIR", "out/clean/files"))
out_dir.mkdir(parents=True, exist_ok=True)

with open(inputs / "ingest" / "files" / "raw.csv", newline="") as fh:
    rows = [r for r in csv.DictReader(fh) if 5 <= int(r["value"]) <= 95]

with open(out_dir / "clean.csv", "w", newline="") as fh:
    writer = csv.DictWriter(fh, fieldnames=["id", "value"])
    writer.writeheader()
    writer.writerows(rows)
print("kept", len(rows), "rows")
