"""Task results: ``cellpipe.report(accuracy=0.93)`` from task code, and ``metrics.json`` in the output folder.

Results are small named values: numbers, short strings and booleans. ``report()`` checks each one
as it is given (a bad one raises at once, in the cell that reported it, naming it) and appends it to
the attempt's results file (``$CELLPIPE_RESULTS_FILE``, one JSON object per line, so reports from
the kernel engine's kernel and from forked workers land in one place). When the task ends the runner
reads that file and ``$CELLPIPE_OUTPUT_DIR/metrics.json`` (nested objects flatten to dotted names, as
DVC reads metrics files), later reports overriding the file, and puts them in result.json.

The limits come from task.json (``resultLimits``, passed to the cells as ``$CELLPIPE_RESULT_LIMITS``);
names and values follow schema/src/results.ts.
"""

import json
import os
import re

ENV_FILE = "CELLPIPE_RESULTS_FILE"
ENV_LIMITS = "CELLPIPE_RESULT_LIMITS"
METRICS_FILE = "metrics.json"
RESULTS_FILE = "results.jsonl"

# schema/src/results.ts: RESULT_NAME_PATTERN, RESULT_NAME_MAX, RESULT_STRING_MAX.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*\Z")
NAME_CHARS = 128
STRING_CHARS = 256
# A value's .item() (numpy, torch scalars) is followed this many times at most.
_ITEM_DEPTH = 2


class ResultError(ValueError):
    """A result that cannot be published; the message names it and says what is allowed."""


def limits_from_env(environ=None):
    """The limits the runner passed to the cells: count and bytes (None: not capped), name and string length."""
    environ = os.environ if environ is None else environ
    limits = {"count": None, "bytes": None, "nameChars": NAME_CHARS, "stringChars": STRING_CHARS}
    raw = environ.get(ENV_LIMITS)
    if raw:
        try:
            given = json.loads(raw)
        except ValueError:
            given = {}
        if isinstance(given, dict):
            for key in limits:
                value = given.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    limits[key] = value
    return limits


def check_name(name, limits):
    if not isinstance(name, str):
        raise ResultError("result names are strings, not %s (%r)" % (type(name).__name__, name))
    if len(name) > limits["nameChars"]:
        raise ResultError(
            "result name %r is %d characters, over %d" % (name[:40] + "…", len(name), limits["nameChars"])
        )
    if not _NAME.match(name):
        raise ResultError(
            "result name %r: names start with a letter or '_' and hold only letters, digits, '_', '.', '/' and '-'"
            % (name,)
        )
    return name


def check_value(name, value, limits, depth=0):
    """The JSON value a result is published as; raises ResultError naming the result."""
    import math
    import numbers

    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise ResultError("result %r is %r: numbers must be finite (report str(value) to keep it)" % (name, number))
        return number
    if isinstance(value, str):
        if len(value) > limits["stringChars"]:
            raise ResultError(
                "result %r is a string of %d characters, over %d: results are short values "
                "(write longer text to a file in $CELLPIPE_OUTPUT_DIR)" % (name, len(value), limits["stringChars"])
            )
        return value
    item = getattr(value, "item", None)
    if callable(item) and depth < _ITEM_DEPTH:
        # numpy and torch scalars (and one-element arrays) say what they hold through .item().
        try:
            inner = item()
        except Exception:
            inner = value
        if inner is not value:
            return check_value(name, inner, limits, depth + 1)
    raise ResultError(
        "result %r is a %s: results are numbers, strings (at most %d characters) or booleans"
        % (name, type(value).__name__, limits["stringChars"])
    )


def checked(results, limits):
    """Every name and value checked, in the order given."""
    out = {}
    for name, value in results.items():
        out[check_name(name, limits)] = check_value(name, value, limits)
    return out


def size(results):
    return len(json.dumps(results, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def check_totals(results, limits, what="the task's results"):
    count, most = limits["count"], limits["bytes"]
    if count is not None and len(results) > count:
        raise ResultError(
            "%s are %d values, over the limit of %d (limits.resultsPerTask)" % (what, len(results), count)
        )
    if most is not None:
        n = size(results)
        if n > most:
            raise ResultError("%s are %d bytes as JSON, over the limit of %d (limits.resultsBytes)" % (what, n, most))


def read_reported(path):
    """What report() appended so far, later reports winning; lines that are not ours are left out."""
    out = {}
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return out
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.update(entry)
    return out


def report(*mapping, **results):
    """Publish named results of this task: ``cellpipe.report(accuracy=0.93, loss=0.12)``, or a dict
    for names that are not Python identifiers (``cellpipe.report({"val/loss": 0.1})``). Numbers,
    strings and booleans; reporting a name again replaces its value. Raises ResultError (a
    ValueError) naming the result that cannot be published. Returns the values as published."""
    given = {}
    for m in mapping:
        if not isinstance(m, dict):
            raise ResultError("cellpipe.report takes a dict or name=value pairs, not %s" % type(m).__name__)
        given.update(m)
    given.update(results)
    limits = limits_from_env()
    values = checked(given, limits)
    path = os.environ.get(ENV_FILE)
    if not path:
        # Outside a Cellpipe task (a notebook run by hand): nothing collects them, so show them.
        import sys

        sys.stdout.write("[cellpipe] results: %s\n" % json.dumps(values, ensure_ascii=False))
        return values
    merged = read_reported(path)
    merged.update(values)
    check_totals(merged, limits, "the results reported so far")
    line = (json.dumps(values, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
    # One write with O_APPEND: reports from other processes of the task interleave by whole lines.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return values


def flatten(obj, prefix=""):
    """metrics.json as (name, value) pairs: nested objects become dotted names (``train.loss``)."""
    for key, value in obj.items():
        name = "%s.%s" % (prefix, key) if prefix else str(key)
        if isinstance(value, dict):
            for pair in flatten(value, name):
                yield pair
        else:
            yield name, value


def read_metrics(files_dir, limits):
    """The results of ``<files_dir>/metrics.json`` ({} when there is none); raises ResultError."""
    path = os.path.join(files_dir, METRICS_FILE)
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ResultError("%s cannot be read: %s" % (METRICS_FILE, e.strerror or e))
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ResultError("%s is not valid JSON: %s" % (METRICS_FILE, e))
    if not isinstance(data, dict):
        raise ResultError("%s must hold a JSON object of results, not %s" % (METRICS_FILE, type(data).__name__))
    try:
        return checked(dict(flatten(data)), limits)
    except ResultError as e:
        raise ResultError("%s: %s" % (METRICS_FILE, e))


def collect(files_dir, results_path, limits):
    """The attempt's results: metrics.json, then report() on top. Raises ResultError."""
    results = read_metrics(files_dir, limits)
    try:
        reported = checked(read_reported(results_path), limits)
    except ResultError as e:
        raise ResultError("%s: %s" % (RESULTS_FILE, e))
    results.update(reported)
    check_totals(results, limits)
    return results
