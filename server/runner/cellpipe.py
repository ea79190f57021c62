"""Cellpipe's API for task code, provided by the task runner (nothing to install).

    import cellpipe
    cellpipe.report(accuracy=0.93, loss=0.12)        # numbers, short strings, booleans
    cellpipe.report({"val/loss": 0.1})               # names that are not Python identifiers

Results are stored with the task's attempt, shown per task and per job, and compared across the
runs of a saved pipeline. Writing ``metrics.json`` to ``$CELLPIPE_OUTPUT_DIR`` does the same.
"""

from cellpipe_runner.reporting import ResultError, report

__all__ = ["ResultError", "report"]
