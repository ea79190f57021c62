"""Runs a notebook top to bottom in a Jupyter kernel (nbclient), as "Run All" does, and prints what
every code cell printed and showed, as JSON on stdout:

    python reference.py NOTEBOOK WORKDIR [--timeout SECONDS]

    {"status": "ok" | "error" | "timeout",
     "error": {"cell": 4, "ename": "...", "evalue": "..."},      # when it stopped early
     "cells": {"0": [<nbformat outputs>], ...},                  # 0-based cell index -> outputs
     "seconds": 1.2}

The kernel starts in WORKDIR (the notebook's own folder or a copy of it), like Jupyter starts it in
the notebook's folder. Like "Run All", the run stops at the first cell that raises, unless the cell
is tagged raises-exception. Outputs are the kernel's own; comparing them is the caller's job.
"""
import argparse
import json
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebook")
    ap.add_argument("workdir")
    ap.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    args = ap.parse_args()

    nb = nbformat.read(args.notebook, as_version=4)
    for cell in nb.cells:  # what a stored run left behind must not pass for this run's output
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    # A graceful kernel shutdown waits seconds for nothing: the outputs are all in by then.
    client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3", shutdown_kernel="immediate",
                            resources={"metadata": {"path": args.workdir}})
    started = time.perf_counter()
    result = {"status": "ok"}
    try:
        client.execute()
    except CellTimeoutError as e:
        result = {"status": "timeout", "error": {"cell": _failed_cell(nb), "ename": "CellTimeoutError",
                                                 "evalue": str(e).splitlines()[0] if str(e) else ""}}
    except CellExecutionError as e:
        result = {"status": "error", "error": {"cell": _failed_cell(nb), "ename": e.ename, "evalue": e.evalue}}
    except DeadKernelError as e:
        result = {"status": "error", "error": {"cell": _failed_cell(nb), "ename": "DeadKernelError",
                                               "evalue": str(e)}}
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["cells"] = {str(i): c.get("outputs", []) for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    json.dump(result, sys.stdout)


def _failed_cell(nb):
    """The last code cell that ran: execution stops right after the one that failed."""
    last = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.get("execution_count") is not None:
            last = i
    return last


if __name__ == "__main__":
    main()
