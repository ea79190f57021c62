"""result.json and the executed notebook, both written atomically."""

import os
import sys
import time

from . import VERSION
from .contract import CellTiming, Result, ResultError, RunnerInfo, to_json

# Files listed in result.json `artifacts` at most.
ARTIFACTS_LIMIT = 10000


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


def ms(seconds):
    return int(round(seconds * 1000))


def python_version():
    v = sys.version_info
    return "%d.%d.%d" % (v[0], v[1], v[2])


def write_atomic(path, data):
    """Writes bytes to path via a temp file in the same directory and a rename."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _dumps(obj):
    import json

    return json.dumps(obj, indent=1, ensure_ascii=False, default=_json_default) + "\n"


def write_json(path, obj):
    write_atomic(path, _dumps(obj).encode("utf-8", "replace"))


def write_result(task, *args, **kwargs):
    """result.json (arguments as for result()), its texts bounded by the task's limits (limits.py)."""
    from . import limits

    most = limits.error_bytes(task)
    for item in list(kwargs.get("notes", ())) + list(kwargs.get("warnings", ())):
        item.message = limits.cap_text(item.message, most, "start")
    doc = result(*args, **kwargs)
    text = limits.fit_result(doc, limits.result_bytes(task), _dumps)
    write_atomic(task.resultPath, text.encode("utf-8", "replace"))


def _json_default(value):
    # A _repr_json_ that returned something json cannot encode still leaves a valid file.
    return repr(value)


def result(
    status,
    started_wall,
    duration,
    engine,
    cells=(),
    outputs=(),
    output_details=(),
    artifacts=(),
    notes=(),
    warnings=(),
    error=None,
    results=None,
    usage=None,
):
    """The result.json document (a contract.Result as JSON)."""
    return to_json(
        Result(
            status=status,
            startedAt=iso(started_wall),
            finishedAt=iso(time.time()),
            durationMs=ms(duration),
            cells=list(cells),
            outputs=list(outputs),
            outputDetails=list(output_details),
            artifacts=list(artifacts),
            notes=list(notes),
            warnings=list(warnings),
            runner=RunnerInfo(version=VERSION, engine=engine, python=python_version()),
            error=error,
            results=results,
            usage=usage,
        )
    )


def list_artifacts(root):
    """Files under the task's output folder, relative, sorted, '/'-separated."""
    found = []
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(directory, name), root)
            found.append(rel.replace(os.sep, "/"))
            if len(found) >= ARTIFACTS_LIMIT:
                return found
    return found


def cell_timings(steps):
    timings = []
    for step in steps:
        if step.index is None or step.started is None:
            continue
        duration = step.duration
        if duration is None:
            duration = time.perf_counter() - step.started
        timings.append(CellTiming(index=step.index, position=step.position, role=step.role, durationMs=ms(duration)))
    return timings


def executed_notebook(task, steps, status):
    """nbformat 4.5: the cells that ran (setup, injected parameters, task cells) with their outputs."""
    cells = []
    used_ids = set()
    for step in steps:
        outputs = []
        for out in list(step.outputs):
            if out.get("output_type") == "stream":
                out = {"output_type": "stream", "name": out["name"], "text": "".join(out["_chunks"])}
            outputs.append(out)
        meta = {"cellpipe": {"role": step.role, "status": step.status}}
        if step.index is not None:
            meta["cellpipe"]["index"] = step.index
            meta["cellpipe"]["cell"] = step.position
        if step.duration is not None:
            meta["cellpipe"]["durationMs"] = ms(step.duration)
        if step.role == "parameters":
            meta["tags"] = ["injected-parameters"]
            cell_id = "injected-parameters"
        else:
            cell_id = "cell-%d" % step.index
            tags = (["cellpipe-setup"] if step.role == "setup" else []) + (["raises-exception"] if step.raises else [])
            if tags:
                meta["tags"] = tags
        unique, n = cell_id, 1
        while unique in used_ids:  # nbformat 4.5 wants unique ids; a cell may run twice
            n += 1
            unique = "%s-%d" % (cell_id, n)
        used_ids.add(unique)
        cells.append(
            {
                "cell_type": "code",
                "execution_count": step.execution_count,
                "id": unique,
                "metadata": meta,
                "outputs": outputs,
                "source": step.source.splitlines(True),
            }
        )
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {
                "name": "python",
                "version": python_version(),
                "file_extension": ".py",
                "mimetype": "text/x-python",
            },
            "cellpipe": {
                "jobId": task.jobId,
                "taskId": task.taskId,
                "task": task.taskName,
                "attempt": task.attempt,
                "status": status,
            },
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_bad_task_result(path, message, started):
    """Best effort: a failed result.json next to the exit code 2, when task.json named a place."""
    try:
        import json

        with open(path, "rb") as f:
            raw = json.loads(f.read().decode("utf-8"))
        result_path = raw.get("resultPath") if isinstance(raw, dict) else None
        if not isinstance(result_path, str) or not os.path.isabs(result_path) or "\0" in result_path:
            return
        from .limits import DEFAULT_ERROR_BYTES, cap_text

        # The task's own limits are in the file that could not be read: the default ones apply.
        message = cap_text("bad task.json: %s" % message, DEFAULT_ERROR_BYTES, "start")
        error = ResultError(message=message, reason="bad-task")
        write_json(result_path, result("failed", started, time.time() - started, "stdlib", error=error))
    except Exception:
        pass
