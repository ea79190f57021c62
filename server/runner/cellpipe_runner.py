#!/usr/bin/env python3
"""Cellpipe task runner: executes one pipeline task in a fresh Python process.

    python3 cellpipe_runner.py /path/to/task.json

It loads the task's inputs (pickled by upstream tasks), runs the setup cells, the parameters cell and
the parameter overrides, then the task's own cells in one module-like namespace (``__name__ ==
"__main__"``), saves the declared outputs, and writes an executed notebook and result.json.

This file is the whole runner: standard library only, Python 3.9+, no package around it, so it can
be copied into a ConfigMap and run in any image that has python3. Imports are kept lazy because
every task pays for them at start.

Exit codes: 0 succeeded, 1 task failed (result.json says why), 2 bad task.json (stderr names the
field), 143 cancelled by SIGTERM, 130 interrupted by SIGINT.
"""
import os
import sys
import time

RUNNER_VERSION = "1"
EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_BAD_TASK = 2
EXIT_INTERRUPTED = 130
EXIT_CANCELLED = 143

# A cell's captured text in the executed notebook stops growing past this; the live log keeps all.
NOTEBOOK_STREAM_LIMIT = 1 << 20
MARKER_PREFIX = "[cellpipe] "

_TASK_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_KINDS = ("cells", "notebook", "script")
ENGINES = ("stdlib", "kernel", "auto")


# --------------------------------------------------------------------------------------------------
# task.json


class BadTask(Exception):
    """task.json is malformed; ``field`` is the JSON path of the offending value."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message) if field else message)
        self.field = field


def _is_identifier(name):
    import keyword

    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def _is_task_name(name):
    # Same rule as the spec's TaskNameSchema; the name becomes a directory under artifactRoot.
    return (
        isinstance(name, str)
        and 1 <= len(name) <= 63
        and name[0].isascii()
        and name[0].isalpha()
        and all(c in _TASK_NAME_CHARS for c in name)
    )


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _want(obj, key, kind, path, required=True, default=None):
    """obj[key] checked against a JSON kind ('string', 'int', 'array', 'object', 'abspath')."""
    field = "%s.%s" % (path, key) if path else key
    if key not in obj or (obj[key] is None and not required):
        if required:
            raise BadTask(field, "is required")
        return default
    value = obj[key]
    if kind in ("string", "abspath"):
        if not isinstance(value, str):
            raise BadTask(field, "expected a string, got %s" % _json_type(value))
        if kind == "abspath" and not (os.path.isabs(value) and "\0" not in value):
            raise BadTask(field, "expected an absolute path, got %r" % value)
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadTask(field, "expected an integer, got %s" % _json_type(value))
    elif kind == "array":
        if not isinstance(value, list):
            raise BadTask(field, "expected an array, got %s" % _json_type(value))
    elif kind == "object":
        if not isinstance(value, dict):
            raise BadTask(field, "expected an object, got %s" % _json_type(value))
    return value


def _cells(raw, field):
    cells = []
    for i, cell in enumerate(raw):
        path = "%s[%d]" % (field, i)
        if not isinstance(cell, dict):
            raise BadTask(path, "expected an object, got %s" % _json_type(cell))
        index = _want(cell, "index", "int", path)
        if index < 0:
            raise BadTask(path + ".index", "must be >= 0")
        cells.append({"index": index, "source": _want(cell, "source", "string", path)})
    return cells


def load_task(path):
    """Reads and checks task.json; returns a normalized dict or raises BadTask."""
    import json

    try:
        with open(path, "rb") as f:
            task = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise BadTask("", "cannot read %s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise BadTask("", "%s is not valid JSON: %s" % (path, e))
    if not isinstance(task, dict):
        raise BadTask("", "expected a JSON object at the top level, got %s" % _json_type(task))

    t = {
        "jobId": _want(task, "jobId", "string", ""),
        "taskId": _want(task, "taskId", "string", ""),
        "taskName": _want(task, "taskName", "string", ""),
        "attempt": _want(task, "attempt", "int", "", required=False, default=1),
        "cellOffset": _want(task, "cellOffset", "int", "", required=False, default=1),
        "kind": _want(task, "kind", "string", "", required=False, default="cells"),
        "artifactRoot": _want(task, "artifactRoot", "abspath", ""),
        "outputDir": _want(task, "outputDir", "abspath", ""),
        "resultPath": _want(task, "resultPath", "abspath", ""),
        "notebookPath": _want(task, "notebookPath", "abspath", ""),
        "sourcePath": _want(task, "sourcePath", "string", "", required=False),
        "engine": _want(task, "engine", "string", "", required=False),
    }
    if t["engine"] is None:
        t["engine"] = os.environ.get("CELLPIPE_RUNNER_ENGINE") or "stdlib"
        engine_field = "CELLPIPE_RUNNER_ENGINE"
    else:
        engine_field = "engine"
    if t["engine"] not in ENGINES:
        raise BadTask(engine_field, "expected one of %s, got %r" % (", ".join(ENGINES), t["engine"]))
    for key in ("jobId", "taskId"):
        if not t[key] or "\0" in t[key]:
            raise BadTask(key, "must be a non-empty string without NUL characters")
    if not _is_task_name(t["taskName"]):
        raise BadTask("taskName", "not a task name: %r" % t["taskName"])
    if t["kind"] not in _KINDS:
        raise BadTask("kind", "expected one of %s, got %r" % (", ".join(_KINDS), t["kind"]))

    t["setup"] = _cells(_want(task, "setup", "array", "", required=False, default=[]), "setup")
    if "cells" in task or t["kind"] == "cells" or not t["sourcePath"]:
        t["cells"] = _cells(_want(task, "cells", "array", ""), "cells")
    else:
        t["cells"] = None  # read from sourcePath below (whole-file tasks)

    inputs = []
    for i, item in enumerate(_want(task, "inputs", "array", "", required=False, default=[])):
        path = "inputs[%d]" % i
        if not isinstance(item, dict):
            raise BadTask(path, "expected an object, got %s" % _json_type(item))
        name = _want(item, "name", "string", path)
        source = _want(item, "from", "string", path)
        if not _is_identifier(name):
            raise BadTask(path + ".name", "not a Python identifier: %r" % name)
        if not _is_task_name(source):
            raise BadTask(path + ".from", "not a task name: %r" % source)
        if any(other["name"] == name for other in inputs):
            raise BadTask(path + ".name", "%r is already an input" % name)
        inputs.append({"name": name, "from": source})
    t["inputs"] = inputs

    outputs = _want(task, "outputs", "array", "", required=False, default=[])
    for i, name in enumerate(outputs):
        if not _is_identifier(name):
            raise BadTask("outputs[%d]" % i, "not a Python identifier: %r" % (name,))
    t["outputs"] = list(dict.fromkeys(outputs))

    parameters = _want(task, "parameters", "object", "", required=False, default={})
    for name in parameters:
        if not _is_identifier(name):
            raise BadTask("parameters.%s" % name, "not a Python identifier")
    t["parameters"] = parameters
    pcell = _want(task, "parametersCell", "int", "", required=False)
    if pcell is not None and pcell < 0:
        raise BadTask("parametersCell", "must be >= 0")
    t["parametersCell"] = pcell

    if t["cells"] is None:
        _load_source_file(t)
    return t


def _load_source_file(t):
    """Whole-file tasks without ``cells``: read the notebook's code cells or the script."""
    path = t["sourcePath"]
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadTask("sourcePath", "cannot read %s: %s" % (path, e))
    if t["kind"] == "script":
        t["cells"] = [{"index": 0, "source": text}]
        return
    import json

    try:
        nb = json.loads(text)
        raw_cells = nb["cells"]
        if not isinstance(raw_cells, list):
            raise TypeError("cells is not a list")
    except (ValueError, KeyError, TypeError) as e:
        raise BadTask("sourcePath", "%s is not a notebook: %s" % (path, e))
    cells = []
    for i, cell in enumerate(raw_cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        cells.append({"index": i, "source": src})
        tags = (cell.get("metadata") or {}).get("tags") or []
        if t["parametersCell"] is None and isinstance(tags, list) and "parameters" in tags:
            t["parametersCell"] = i  # papermill's convention
    t["cells"] = cells


# --------------------------------------------------------------------------------------------------
# IPython-ish syntax without IPython


def _split_cell_magic(source):
    """('time', args, body) when the cell starts with a %%magic line, else None."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("%%"):
            return None
        head = stripped[2:].split(None, 1)
        name = head[0] if head else ""
        args = head[1] if len(head) > 1 else ""
        # Blank lines keep the body's line numbers those of the cell.
        body = "\n" * (i + 1) + "\n".join(lines[i + 1 :])
        return name, args, body
    return None


def _looks_magic(line):
    s = line.lstrip()
    if not s:
        return None
    if s[0] == "%":
        return "magic"
    if s[0] == "!":
        return "shell"
    if s.endswith("?") and not s.startswith("#"):
        core = s.rstrip("?")
        if core and all(c.isalnum() or c in "._" for c in core):
            return "help"
    if s.startswith("?"):
        return "help"
    # `files = !ls` and `t = %timeit f()`
    eq = s.find("=")
    if 0 < eq < len(s) - 1 and s[eq - 1] not in "=!<>+-*/%&|^@:" and s[eq + 1] != "=":
        rhs = s[eq + 1 :].lstrip()
        if rhs[:1] in ("!", "%"):
            return "shell" if rhs[0] == "!" else "magic"
    return None


def transform_magics(source):
    """Rewrites IPython line magics, shell and help lines into plain Python.

    Returns (python_source, notes). Lines keep their numbers so tracebacks point at the user's line.
    Only called for cells that are not valid Python; even then a line that starts inside a string,
    inside brackets or after a backslash (`x = (a\n % b)`) is Python, not a magic.
    """
    lines = source.split("\n")
    notes = []
    out = []
    continuation = False
    scanner = _Scanner()
    for lineno, line in enumerate(lines, 1):
        if continuation:
            out.append("")
            continuation = line.rstrip().endswith("\\")
            continue
        what = None if scanner.inside() else _looks_magic(line)
        if what is None:
            out.append(line)
            scanner.feed(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        text = line.strip()
        continuation = text.endswith("\\")
        if what == "magic" and text.startswith("%time ") and not continuation:
            # %time <statement>: run it and print the timing, as IPython does.
            out.append("%swith _cellpipe_time(): %s" % (indent, text[len("%time ") :].strip()))
            continue
        if what == "magic" and (text.startswith("%env ") or text == "%env"):
            assignment = _env_assignment(text[len("%env") :].strip())
            if assignment:
                out.append("%s__import__('os').environ[%r] = %r" % (indent, assignment[0], assignment[1]))
                continue
        kind = {"magic": "magic", "shell": "shell line", "help": "help line"}[what]
        notes.append("skipped %s at line %d: %s" % (kind, lineno, text))
        out.append(indent + "pass")
    return "\n".join(out), notes


class _Scanner(object):
    """Just enough of Python's tokenizer to know whether the next line starts inside a string,
    brackets or a backslash continuation."""

    def __init__(self):
        self.depth = 0
        self.quote = None
        self.backslash = False

    def inside(self):
        return self.depth > 0 or self.quote is not None or self.backslash

    def feed(self, line):
        i, n = 0, len(line)
        self.backslash = False
        while i < n:
            c = line[i]
            if self.quote is not None:
                if c == "\\":
                    if i == n - 1:
                        self.backslash = True
                    i += 2
                elif line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                else:
                    i += 1
                continue
            if c == "#":
                break
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            elif c in "\"'":
                triple = line[i : i + 3]
                self.quote = triple if triple in ('"""', "'''") else c
                i += len(self.quote)
                continue
            elif c == "\\" and i == n - 1:
                self.backslash = True
            i += 1
        if self.quote in ('"', "'") and not self.backslash:
            self.quote = None  # an unterminated one-line string: the compiler will say so


def _env_assignment(args):
    """%env NAME=value / %env NAME value → (NAME, value); reading forms are skipped."""
    if "=" in args:
        name, _, value = args.partition("=")
    else:
        parts = args.split(None, 1)
        if len(parts) != 2:
            return None
        name, value = parts
    name = name.strip()
    if not name or not all(c.isalnum() or c == "_" for c in name):
        return None
    return name, value.strip()


class _Timer(object):
    """Context manager behind %time / %%time: prints IPython's two timing lines to stdout."""

    def __enter__(self):
        self._cpu = os.times()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self._wall
        end = os.times()
        user = end.user - self._cpu.user
        system = end.system - self._cpu.system
        sys.stdout.write(
            "CPU times: user %s, sys: %s, total: %s\nWall time: %s\n"
            % (_fmt_seconds(user), _fmt_seconds(system), _fmt_seconds(user + system), _fmt_seconds(wall))
        )
        return False


def _fmt_seconds(s):
    if s >= 1:
        return "%.3g s" % s
    if s >= 1e-3:
        return "%.3g ms" % (s * 1e3)
    return "%.3g µs" % (s * 1e6)


# --------------------------------------------------------------------------------------------------
# Rich output (execute_result / display_data)


def mime_bundle(obj):
    """The MIME bundle Jupyter would show for obj: text/plain plus the _repr_*_ methods it has."""
    data = {"text/plain": _plain_repr(obj)}
    if isinstance(obj, type):
        return data  # _repr_html_ on a class is an unbound function
    for method, mime in (
        ("_repr_html_", "text/html"),
        ("_repr_markdown_", "text/markdown"),
        ("_repr_latex_", "text/latex"),
        ("_repr_svg_", "image/svg+xml"),
        ("_repr_json_", "application/json"),
        ("_repr_png_", "image/png"),
        ("_repr_jpeg_", "image/jpeg"),
    ):
        fn = getattr(obj, method, None)
        if not callable(fn):
            continue
        try:
            value = fn()
        except Exception:
            continue
        if isinstance(value, tuple):  # (data, metadata)
            value = value[0] if value else None
        if value is None:
            continue
        if isinstance(value, bytes):
            import base64

            value = base64.b64encode(value).decode("ascii")
        elif mime != "application/json" and not isinstance(value, str):
            continue
        data[mime] = value
    return data


def _plain_repr(obj):
    try:
        text = repr(obj)
    except Exception as e:
        return "<repr of %s failed: %s: %s>" % (_type_name(obj), type(e).__name__, e)
    if len(text) > 79 and isinstance(obj, (dict, list, tuple, set, frozenset)):
        try:
            import pprint

            text = pprint.pformat(obj)
        except Exception:
            pass
    return text


def _type_name(obj):
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in (None, "builtins") else "%s.%s" % (module, name)


# --------------------------------------------------------------------------------------------------
# Streams


class _Tee(object):
    """sys.stdout / sys.stderr for user code: writes through to the process stream (line-buffered,
    so the executor sees lines live) and records the text for the current cell's notebook output."""

    __slots__ = ("_real", "_name", "_runner")

    def __init__(self, real, name, runner):
        self._real = real
        self._name = name
        self._runner = runner

    def write(self, text):
        # Captured first: whatever the log has shown is in the notebook a cancellation writes.
        # Hot path of print-heavy cells: one attribute test before the capture call.
        runner = self._runner
        if runner.current is not None and runner._captured < NOTEBOOK_STREAM_LIMIT and isinstance(text, str):
            runner._capture(self._name, text)
        return self._real.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self._real.flush()

    def __getattr__(self, name):  # fileno, isatty, encoding, buffer, errors, ...
        return getattr(self._real, name)


def _line_buffered(stream):
    # backslashreplace: like Jupyter, printing text the log's encoding cannot hold never fails a task.
    try:
        stream.reconfigure(line_buffering=True, errors="backslashreplace")
    except Exception:
        pass
    return stream


# --------------------------------------------------------------------------------------------------
# Small helpers


def _iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


def _ms(seconds):
    return int(round(seconds * 1000))


def _write_atomic(path, data):
    """Writes bytes to path via a temp file in the same directory and a rename."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _write_json(path, obj):
    import json

    text = json.dumps(obj, indent=1, ensure_ascii=False, default=_json_default)
    _write_atomic(path, (text + "\n").encode("utf-8", "replace"))


def _json_default(value):
    # A _repr_json_ that returned something json cannot encode still leaves a valid file.
    return repr(value)


def _source_lines(text):
    return text.splitlines(True)


def _linecache_entry(filename, source):
    lines = source.splitlines(True)
    # Like a file's: without the final newline, traceback's carets shift one column right.
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return (len(source), None, lines, filename)


class TaskFailure(Exception):
    """A task error that ends the run: reported in result.json, exit code 1."""

    def __init__(self, message, reason, ename=None, traceback=None, cell=None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.ename = ename
        self.traceback = traceback
        self.cell = cell


class _StopTask(Exception):
    """sys.exit(0) in a cell: the remaining cells are skipped and the task succeeds."""


# --------------------------------------------------------------------------------------------------
# The run


def load_variable(namespace, name, path, final):
    """Unpickles path into namespace[name]. None when bound, else what went wrong:
    {"missing": True}, {"defer": True} (retry after the setup cells) or {"ename", "message"}."""
    import pickle

    try:
        with open(path, "rb") as f:
            value = pickle.load(f)
    except FileNotFoundError:
        return {"missing": True}
    except Exception as e:
        if not final and isinstance(e, (AttributeError, ImportError)):
            # Classes defined in a setup cell exist only after the setup cells ran.
            return {"defer": True}
        return {"ename": type(e).__name__, "message": _safe_str(e)}
    namespace[name] = value
    return None


def save_variable(namespace, name, vars_dir):
    """Pickles namespace[name] to <vars_dir>/<name>.pkl through a temp file and a rename.
    {"ok": True, "type", "bytes"} or {"ok": False, "reason", ...} (reason: missing-output, io,
    serialization)."""
    import pickle

    if name not in namespace:
        return {"ok": False, "reason": "missing-output"}
    value = namespace[name]
    path = os.path.join(vars_dir, name + ".pkl")
    tmp = os.path.join(vars_dir, ".%s.pkl.%d.tmp" % (name, os.getpid()))
    try:
        with open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        size = os.path.getsize(tmp)
        os.replace(tmp, path)
    except Exception as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        # An OSError with an errno is the disk (full, permissions), not the object.
        reason = "io" if isinstance(e, OSError) and e.errno is not None else "serialization"
        return {"ok": False, "reason": reason, "ename": type(e).__name__, "message": _safe_str(e),
                "type": _type_name(value), "path": path}
    return {"ok": True, "type": _type_name(value), "bytes": size}


def _safe_str(e):
    try:
        return str(e)
    except Exception:
        return "<unprintable %s>" % type(e).__name__


class Step(object):
    """One notebook cell the run executes (setup, injected parameters or task cell)."""

    __slots__ = ("role", "index", "source", "position", "filename", "outputs", "execution_count",
                 "duration", "started", "status")

    def __init__(self, role, index, source, position, filename):
        self.role = role
        self.index = index
        self.source = source
        self.position = position
        self.filename = filename
        self.outputs = []
        self.execution_count = None
        self.duration = None
        self.started = None
        self.status = "pending"


class Runner(object):
    """The stdlib engine: cells run in this process, in a fresh __main__ module."""

    ENGINE = "stdlib"

    def __init__(self, task, started_wall, started_perf, script_dir=None):
        self.task = task
        self.script_dir = script_dir
        self.started_wall = started_wall
        self.started_perf = started_perf
        self.steps = []
        self.current = None
        self.namespace = None
        self.notes = []
        self.outputs_saved = []
        self.output_details = []
        self.execution_count = 0
        self._sources = {}
        self._pid = os.getpid()
        self.sigterm_seen = False
        self._sigterm_cell = None
        self._wakeup_r = None
        # The cell whose sys.exit() ended the run, if one did.
        self._exit_cell = None
        self._finish_lock = None
        self._loop = None
        self._captured = 0
        self._real_stdout = sys.stdout
        self._real_stderr = sys.stderr

    # ---- plan -------------------------------------------------------------------------------------

    def plan(self):
        t = self.task
        offset = t["cellOffset"]
        script = t["kind"] == "script"
        pcell = t["parametersCell"]
        params = t["parameters"]
        injected = False

        def filename(position):
            if script and t["sourcePath"]:
                return t["sourcePath"]
            return "<cell %d>" % position

        def add(role, cell):
            nonlocal injected
            position = cell["index"] + offset
            self.steps.append(Step(role, cell["index"], cell["source"], position, filename(position)))
            if params and not injected and pcell is not None and cell["index"] == pcell:
                self.steps.append(self._parameters_step())
                injected = True

        for cell in t["setup"]:
            add("setup", cell)
        first_task_step = len(self.steps)
        for cell in t["cells"]:
            add("task", cell)
        if params and not injected:
            # No parameters cell among the executed cells: overrides go before the task's cells.
            self.steps.insert(first_task_step, self._parameters_step())

    def _parameters_step(self):
        lines = ["# Parameters"]
        for name, value in self.task["parameters"].items():
            lines.append("%s = %r" % (name, value))
        step = Step("parameters", None, "\n".join(lines) + "\n", None, "<injected-parameters>")
        return step

    # ---- environment ------------------------------------------------------------------------------

    def prepare_folders_and_env(self):
        t = self.task
        files_dir = os.path.join(t["outputDir"], "files")
        os.makedirs(files_dir, exist_ok=True)
        os.makedirs(os.path.join(t["outputDir"], "vars"), exist_ok=True)
        os.environ["CELLPIPE_JOB_ID"] = t["jobId"]
        os.environ["CELLPIPE_TASK_ID"] = t["taskId"]
        os.environ["CELLPIPE_TASK_NAME"] = t["taskName"]
        os.environ["CELLPIPE_OUTPUT_DIR"] = files_dir
        os.environ["CELLPIPE_INPUT_DIR"] = t["artifactRoot"]
        self._real_stdout = _line_buffered(sys.stdout)
        self._real_stderr = _line_buffered(sys.stderr)

    def user_argv_file_path0(self):
        """sys.argv, __file__ and sys.path[0] the user's code sees (None: leave as is)."""
        t = self.task
        if t["kind"] == "script" and t["sourcePath"]:
            if not os.path.isfile(t["sourcePath"]):
                return [t["sourcePath"]], None, ""  # only a name for tracebacks and argv
            script = os.path.abspath(t["sourcePath"])
            return [t["sourcePath"]], script, os.path.dirname(script)
        return [t["taskName"]], None, ""

    def prepare(self):
        self.prepare_folders_and_env()
        t = self.task
        argv, file, path0 = self.user_argv_file_path0()
        main = type(sys)("__main__")
        main.__dict__["__builtins__"] = sys.modules["builtins"]
        if file:
            main.__dict__["__file__"] = file
        sys.argv = argv
        # Classes defined in cells pickle as __main__.<name>: pickle must find them here.
        sys.modules["__main__"] = main
        self.namespace = main.__dict__
        # Imports resolve as when the user runs the code: from the working directory (Jupyter) or
        # from the script's folder (python3 script.py), never from the runner's folder.
        if sys.path and self.script_dir and os.path.abspath(sys.path[0] or ".") == self.script_dir:
            sys.path[0] = path0

        builtins = sys.modules["builtins"]
        builtins._cellpipe_time = _Timer
        if not hasattr(builtins, "display"):
            builtins.display = self.display

        sys.stdout = _Tee(self._real_stdout, "stdout", self)
        sys.stderr = _Tee(self._real_stderr, "stderr", self)

    def _capture(self, name, text):
        step = self.current
        if step is None or not text:
            return
        if self._captured >= NOTEBOOK_STREAM_LIMIT:
            return
        if self._captured + len(text) > NOTEBOOK_STREAM_LIMIT:
            text = text[: NOTEBOOK_STREAM_LIMIT - self._captured]
            text += "\n[cellpipe: output truncated in the notebook; the task log has all of it]\n"
            self._captured = NOTEBOOK_STREAM_LIMIT
        else:
            self._captured += len(text)
        outs = step.outputs
        if outs and outs[-1].get("output_type") == "stream" and outs[-1]["name"] == name:
            outs[-1]["_chunks"].append(text)
        else:
            outs.append({"output_type": "stream", "name": name, "_chunks": [text]})

    def display(self, *objs, **kwargs):
        """display() for code written for Jupyter: a display_data output, its text in the log."""
        for obj in objs:
            data = obj if kwargs.get("raw") and isinstance(obj, dict) else mime_bundle(obj)
            if self.current is not None:
                self.current.outputs.append({"output_type": "display_data", "data": data, "metadata": {}})
            self._real_stdout.write(str(data.get("text/plain", "")) + "\n")

    def _log(self, message):
        self._real_stdout.write(MARKER_PREFIX + message + "\n")
        self._real_stdout.flush()

    def _note(self, step, message):
        where = "cell %d" % step.position if step.position is not None else "parameters"
        self.notes.append({"cell": step.position, "message": message})
        self._log("note: %s: %s" % (where, message))
        # Also in the executed notebook, where a missing output would otherwise be a puzzle.
        step.outputs.append({"output_type": "stream", "name": "stderr", "_chunks": [MARKER_PREFIX + message + "\n"]})

    # ---- signals ----------------------------------------------------------------------------------

    def install_signals(self):
        import _thread

        signal = _signal_module()

        self._finish_lock = _thread.allocate_lock()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        # A Python-level handler only runs between bytecodes of the main thread; a native call
        # that releases the GIL (numpy, torch, I/O) would delay it. The wakeup fd is written by
        # the C-level handler at once, and a helper thread acts on it.
        try:
            r, w = os.pipe()
            os.set_blocking(w, False)
            signal.set_wakeup_fd(w, warn_on_full_buffer=False)
            _thread.start_new_thread(self._watch_wakeup_fd, (r, signal))
            self._wakeup_r = r
        except (OSError, ValueError, RuntimeError):
            pass
        # Forked children (multiprocessing) must not report the task as cancelled when their
        # parent terminates them: they get the default SIGTERM behaviour back. SIGTERM stays blocked
        # across fork() so none reaches a child before that, through the wakeup fd it shares.
        os.register_at_fork(before=_block_sigterm, after_in_parent=_unblock_sigterm,
                            after_in_child=_reset_signals_in_child)

    def _on_sigterm(self, signum, frame):
        if os.getpid() != self._pid:
            _reset_signals_in_child()
            os.kill(os.getpid(), signum)
            return
        self.sigterm_seen = True
        self.cancel("SIGTERM")

    def _watch_wakeup_fd(self, fd, signal):
        sigterm = int(signal.SIGTERM)
        while True:
            try:
                data = os.read(fd, 64)
            except InterruptedError:
                continue
            except OSError:
                return
            if not data:
                return
            if sigterm in data and os.getpid() == self._pid:
                if not self.sigterm_seen:
                    self._sigterm_cell = self.current.position if self.current is not None else self._exit_cell
                self.sigterm_seen = True
                # User code that installed its own SIGTERM handler (a training loop that saves a
                # checkpoint on preemption) gets to run it; the run then ends as cancelled.
                if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                    self.cancel("SIGTERM")

    def _await_wakeup_watcher(self):
        """
        A cell's own SIGTERM handler that calls sys.exit() can end the run before the watcher
        thread, woken by the signal, gets the GIL back to record it: after such an exit, yield to
        it for a moment so the run is reported as cancelled, not as done.
        """
        if self._exit_cell is None or self._wakeup_r is None:
            return
        deadline = time.monotonic() + 0.2
        while not self.sigterm_seen and time.monotonic() < deadline:
            time.sleep(0.005)

    def cancel(self, why, exit_code=EXIT_CANCELLED, step=None):
        """Writes a cancelled result.json and exits at once; safe from a signal handler or thread."""
        if not self._finish_lock.acquire(False):
            return  # the run is already writing its result
        try:
            step = step or self.current
            if step is not None:
                step.status = "cancelled"
            cell = step.position if step is not None else self._sigterm_cell
            where = " while running cell %d" % cell if cell is not None else ""
            message = "cancelled by %s%s" % (why, where)
            try:
                self._real_stderr.write(MARKER_PREFIX + message + "\n")
            except Exception:
                pass
            error = {"message": message, "reason": "cancelled"}
            if cell is not None:
                error["cell"] = cell
            self._finish("cancelled", error)
        finally:
            _flush_quietly(self._real_stdout, self._real_stderr)
            os._exit(exit_code)

    # ---- inputs and outputs -----------------------------------------------------------------------

    def input_path(self, item):
        return os.path.join(self.task["artifactRoot"], item["from"], "vars", item["name"] + ".pkl")

    def load_inputs(self, items, final):
        """Binds inputs into the namespace; returns the ones to retry after the setup cells."""
        deferred = []
        for item in items:
            path = self.input_path(item)
            problem = self._load_variable(item["name"], path, final)
            if problem is None:
                continue
            if problem.get("defer"):
                deferred.append(item)
                continue
            raise self._input_failure(item, path, problem)
        return deferred

    def _load_variable(self, name, path, final):
        return load_variable(self.namespace, name, path, final)

    def _input_failure(self, item, path, problem):
        if problem.get("missing"):
            return TaskFailure(
                "input '%s' from task '%s' not found: %s (does '%s' list '%s' in its outputs?)"
                % (item["name"], item["from"], path, item["from"], item["name"]),
                "input",
            )
        return TaskFailure(
            "input '%s' from task '%s' cannot be loaded: %s: %s. Classes and functions "
            "defined in a task's cells are saved by reference; define them in a setup cell "
            "or a module so every task has them."
            % (item["name"], item["from"], problem["ename"], problem["message"]),
            "input",
            ename=problem["ename"],
        )

    def save_outputs(self):
        vars_dir = os.path.join(self.task["outputDir"], "vars")
        for name in self.task["outputs"]:
            fact = self._save_variable(name, vars_dir)
            if not fact["ok"]:
                raise self._output_failure(name, fact)
            self.outputs_saved.append(name)
            self.output_details.append({"name": name, "type": fact["type"], "bytes": fact["bytes"]})

    def _save_variable(self, name, vars_dir):
        return save_variable(self.namespace, name, vars_dir)

    def _output_failure(self, name, fact):
        reason = fact["reason"]
        if reason == "missing-output":
            message = "output '%s' was declared but the task's cells never assigned it" % name
            return TaskFailure(message, reason, ename="NameError")
        if reason == "io":
            message = "output '%s' could not be written to %s: %s" % (name, fact["path"], fact["message"])
        else:
            message = "output '%s' (type %s) cannot be pickled: %s: %s" % (
                name, fact["type"], fact["ename"], fact["message"])
        return TaskFailure(message, reason, ename=fact["ename"])

    # ---- cells ------------------------------------------------------------------------------------

    def run_step(self, step):
        self.execution_count += 1
        step.execution_count = self.execution_count
        self.current = step
        self._captured = 0
        if step.role == "parameters":
            self._log("parameters")
            for name, value in self.task["parameters"].items():
                self._bind(name, value)
            step.status = "ok"
            step.duration = 0.0
            return
        self._log("cell %d" % step.position)
        step.started = time.perf_counter()
        try:
            self._execute(step)
            step.status = "ok"
        except BaseException:
            step.status = "error"
            raise
        finally:
            step.duration = time.perf_counter() - step.started
            _flush_quietly(self._real_stdout, self._real_stderr)
            self.current = None

    def _bind(self, name, value):
        self.namespace[name] = value

    def _execute(self, step):
        source = step.source
        timed = False
        magic = _split_cell_magic(source)
        if magic is not None:
            name, args, body = magic
            if name == "time":
                timed, source = True, body
            elif name == "writefile" and args:
                try:
                    self._writefile(args, body)
                except OSError as e:
                    raise self._cell_error(step, e)
                return
            elif name == "capture":
                self._note(step, "ran the %%capture cell without capturing its output")
                source = body
            else:
                self._note(step, "skipped %%%%%s cell" % name)
                return
        self._sources[step.filename] = source
        self._register_source(step.filename, source)
        try:
            code, expr = self._compile(step, source)
        except (SyntaxError, ValueError) as e:  # ValueError: a NUL byte, before Python 3.12
            raise self._cell_error(step, e)
        try:
            if timed:
                with _Timer():
                    value = self._run_code(code, expr)
            else:
                value = self._run_code(code, expr)
        except SystemExit as e:
            self._exit_cell = step.position
            if e.code in (None, 0):
                self._log("cell %d called sys.exit(%s): remaining cells skipped" % (step.position, e.code))
                raise _StopTask()
            raise TaskFailure(
                "cell %d exited with sys.exit(%r)" % (step.position, e.code), "exit",
                ename="SystemExit", cell=step.position,
            )
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            raise self._cell_error(step, e)
        if value is not None:
            step.outputs.append({
                "output_type": "execute_result",
                "execution_count": step.execution_count,
                "data": mime_bundle(value),
                "metadata": {},
            })

    def _compile(self, step, source):
        """(code, last_expression_code or None), compiled with the cell's filename."""
        import _ast

        flags = _ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        try:
            tree = compile(source, step.filename, "exec", flags | _ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError:
            python, notes = transform_magics(source)
            if python == source:
                raise
            tree = compile(python, step.filename, "exec", flags | _ast.PyCF_ONLY_AST, dont_inherit=True)
            for note in notes:
                self._note(step, note)
            source = python
        expr = None
        body = tree.body
        if body and isinstance(body[-1], _ast.Expr) and not _silenced(source, body[-1]):
            expr = compile(_ast.Expression(body[-1].value), step.filename, "eval", flags, dont_inherit=True)
            tree.body = body[:-1]
        return compile(tree, step.filename, "exec", flags, dont_inherit=True), expr

    def _run_code(self, code, expr):
        ns = self.namespace
        result = eval(code, ns)
        if code.co_flags & 0x80:  # CO_COROUTINE: the cell has a top-level await
            self._await(result)
        if expr is None:
            return None
        value = eval(expr, ns)
        if expr.co_flags & 0x80:
            value = self._await(value)
        return value

    def _await(self, coroutine):
        import asyncio

        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
        return self._loop.run_until_complete(coroutine)

    def _writefile(self, args, body):
        parts = args.split()
        append = parts[0] in ("-a", "--append") if parts else False
        path = " ".join(parts[1:] if append else parts).strip("'\"")
        text = body.lstrip("\n")
        with open(path, "a" if append else "w", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.write("%s %s\n" % ("Appending to" if append else "Writing", path))

    def _register_source(self, filename, source):
        # Tracebacks, warnings and inspect.getsource() read cell source through linecache.
        linecache = sys.modules.get("linecache")
        if linecache is not None:
            linecache.cache[filename] = _linecache_entry(filename, source)

    def _cell_error(self, step, exc):
        import linecache

        for filename, source in self._sources.items():
            linecache.cache[filename] = _linecache_entry(filename, source)
        tb = format_user_traceback(exc, self._is_user_file)
        try:
            evalue = str(exc)
        except Exception:
            evalue = "<unprintable %s>" % type(exc).__name__
        ename = type(exc).__name__
        step.outputs.append({
            "output_type": "error",
            "ename": ename,
            "evalue": evalue,
            "traceback": tb.rstrip("\n").split("\n"),
        })
        reason = "exception"
        if isinstance(exc, SyntaxError):
            reason = "syntax"
        elif isinstance(exc, MemoryError):
            reason = "oom"
        message = "%s: %s" % (ename, evalue) if evalue else ename
        return TaskFailure(message, reason, ename=ename, traceback=tb, cell=step.position)

    def _is_user_file(self, filename):
        return filename in self._sources

    # ---- whole run --------------------------------------------------------------------------------

    def run(self):
        t = self.task
        self.install_signals()
        self.plan()
        status, error, code = "succeeded", None, EXIT_OK
        try:
            try:
                self.prepare()
            except OSError as e:
                raise TaskFailure("cannot prepare the task's folders: %s" % e, "io", ename=type(e).__name__)
            self._log("task %s (job %s, attempt %d)" % (t["taskName"], t["jobId"], t["attempt"]))
            try:
                deferred = self.load_inputs(t["inputs"], final=not t["setup"])
                setup_done = not t["setup"]
                for step in self.steps:
                    if not setup_done and step.role == "task":
                        self.load_inputs(deferred, final=True)
                        deferred, setup_done = [], True
                    self.run_step(step)
                if not setup_done:
                    self.load_inputs(deferred, final=True)
            except _StopTask:
                pass
            self.save_outputs()
        except TaskFailure as failure:
            status, code, error = "failed", EXIT_TASK_FAILED, self._report_failure(failure)
        except KeyboardInterrupt:
            self.cancel("SIGINT", EXIT_INTERRUPTED)
        except Exception as e:
            # A fault of the runner or its environment, not of the user's code: keep every frame.
            import traceback

            failure = TaskFailure("runner error: %s: %s" % (type(e).__name__, e), "runner",
                                  ename=type(e).__name__, traceback=traceback.format_exc())
            status, code, error = "failed", EXIT_TASK_FAILED, self._report_failure(failure)
        self._await_wakeup_watcher()
        if self.sigterm_seen:
            # The cells' own SIGTERM handler ended them (see _watch_wakeup_fd): still a cancellation.
            self.cancel("SIGTERM")
        if not self._finish_lock.acquire(False):
            while True:  # a SIGTERM is writing the cancelled result and will exit the process
                time.sleep(1)
        try:
            self._finish(status, error)
        except Exception as e:
            self._real_stderr.write("cellpipe runner: cannot write %s or %s: %s\n"
                                    % (t["resultPath"], t["notebookPath"], e))
            _flush_quietly(self._real_stdout, self._real_stderr)
            return EXIT_TASK_FAILED
        self._log("task %s %s in %d ms" % (t["taskName"], status, _ms(time.perf_counter() - self.started_perf)))
        _flush_quietly(self._real_stdout, self._real_stderr)
        return code

    def _report_failure(self, failure):
        """The result.json error object; the traceback and a one-line summary go to stderr."""
        error = {"message": failure.message, "reason": failure.reason}
        for key in ("ename", "traceback", "cell"):
            value = getattr(failure, key)
            if value is not None:
                error[key] = value
        stream = self._real_stderr
        if failure.traceback:
            stream.write(failure.traceback if failure.traceback.endswith("\n") else failure.traceback + "\n")
        stream.write(MARKER_PREFIX + "task failed: %s\n" % failure.message)
        return error

    # ---- result.json and the executed notebook ----------------------------------------------------

    def _finish(self, status, error):
        now = time.time()
        self.write_notebook(status)
        result = {
            "status": status,
            "startedAt": _iso(self.started_wall),
            "finishedAt": _iso(now),
            "durationMs": _ms(time.perf_counter() - self.started_perf),
            "cells": self._cell_timings(),
            "outputs": list(self.outputs_saved),
            "outputDetails": list(self.output_details),
            "artifacts": self._artifacts(),
            "notes": list(self.notes),
            "runner": {"version": RUNNER_VERSION, "engine": self.ENGINE, "python": _python_version()},
        }
        if error is not None:
            result["error"] = error
        _write_json(self.task["resultPath"], result)

    def _cell_timings(self):
        timings = []
        for step in self.steps:
            if step.index is None or step.started is None:
                continue
            duration = step.duration
            if duration is None:
                duration = time.perf_counter() - step.started
            timings.append({"index": step.index, "position": step.position, "role": step.role,
                            "durationMs": _ms(duration)})
        return timings

    def _artifacts(self):
        root = os.path.join(self.task["outputDir"], "files")
        found = []
        for directory, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                rel = os.path.relpath(os.path.join(directory, name), root)
                found.append(rel.replace(os.sep, "/"))
                if len(found) >= 10000:
                    return found
        return found

    def write_notebook(self, status):
        t = self.task
        cells = []
        used_ids = set()
        for step in self.steps:
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
                meta["cellpipe"]["durationMs"] = _ms(step.duration)
            if step.role == "parameters":
                meta["tags"] = ["injected-parameters"]
                cell_id = "injected-parameters"
            else:
                cell_id = "cell-%d" % step.index
                if step.role == "setup":
                    meta["tags"] = ["cellpipe-setup"]
            unique, n = cell_id, 1
            while unique in used_ids:  # nbformat 4.5 wants unique ids; a cell may run twice
                n += 1
                unique = "%s-%d" % (cell_id, n)
            used_ids.add(unique)
            cell_id = unique
            cells.append({
                "cell_type": "code",
                "execution_count": step.execution_count,
                "id": cell_id,
                "metadata": meta,
                "outputs": outputs,
                "source": _source_lines(step.source),
            })
        notebook = {
            "cells": cells,
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python", "version": _python_version(),
                                  "file_extension": ".py", "mimetype": "text/x-python"},
                "cellpipe": {"jobId": t["jobId"], "taskId": t["taskId"], "task": t["taskName"],
                             "attempt": t["attempt"], "status": status},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        _write_json(t["notebookPath"], notebook)


# --------------------------------------------------------------------------------------------------
# The kernel engine (optional): the same run in an IPython kernel, when the image has ipykernel


def _kernel_available():
    from importlib.util import find_spec

    return find_spec("jupyter_client") is not None and find_spec("ipykernel") is not None


_ANSI = None


def _strip_ansi(text):
    global _ANSI
    if _ANSI is None:
        import re

        _ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
    return _ANSI.sub("", text)


class KernelDied(TaskFailure):
    def __init__(self, cell=None):
        where = " while running cell %d" % cell if cell is not None else ""
        TaskFailure.__init__(self, "the kernel died%s" % where, "kernel", cell=cell)


class KernelRunner(Runner):
    """Runs the cells in an IPython kernel (jupyter_client + ipykernel), so magics, `!shell` lines
    and IPython's display machinery work for real. Everything else is the stdlib engine's: the
    plan, task.json, result.json, variable files, log markers, notebook and exit codes. Variables
    move between this process and the kernel through this very file, imported in the kernel as
    `_cellpipe_kernel` (load_variable / save_variable run there)."""

    ENGINE = "kernel"
    KILL_GRACE_S = 2.0

    def __init__(self, *args, **kwargs):
        Runner.__init__(self, *args, **kwargs)
        self.km = None
        self.kc = None
        self._kernel_pid = None

    # ---- kernel lifecycle -------------------------------------------------------------------------

    def prepare(self):
        self.prepare_folders_and_env()
        if not _kernel_available():
            raise TaskFailure("the kernel engine needs jupyter_client and ipykernel in %s" % sys.executable,
                              "kernel")
        import tempfile

        from jupyter_client.manager import KernelManager

        # ipc: no TCP ports, and the connection file's sockets live in a private folder.
        self._kernel_dir = tempfile.mkdtemp(prefix="cellpipe-kernel-")
        km = KernelManager(kernel_name="python3", transport="ipc",
                           connection_file=os.path.join(self._kernel_dir, "kernel.json"))
        km.ip = os.path.join(self._kernel_dir, "k")
        km.start_kernel(cwd=os.getcwd(), env=dict(os.environ))
        self.km = km
        self._kernel_pid = getattr(km.provisioner, "pid", None)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
        except RuntimeError as e:
            raise TaskFailure("the kernel did not start: %s" % e, "kernel")
        self.kc = kc
        argv, file, path0 = self.user_argv_file_path0()
        runner_path = os.path.abspath(_RUNNER_PATH)
        setup = (
            "def _cellpipe_setup(path):\n"
            "    import importlib.util, sys\n"
            "    spec = importlib.util.spec_from_file_location('_cellpipe_kernel', path)\n"
            "    module = importlib.util.module_from_spec(spec)\n"
            "    spec.loader.exec_module(module)\n"
            "    sys.modules['_cellpipe_kernel'] = module\n"
            "_cellpipe_setup(%r)\n"
            "del _cellpipe_setup\n" % runner_path
        )
        self._call(setup)
        self._expr("kernel_prepare(%r, %r, %r)" % (argv, file, path0))

    def stop_kernel(self, grace=0.0):
        """Ends the kernel and everything it started (it runs in its own process group)."""
        pid = self._kernel_pid
        if pid is None:
            return
        signal = _signal_module()
        if grace > 0:
            _killpg(pid, signal.SIGTERM)
            deadline = time.time() + grace
            while time.time() < deadline and self._kernel_alive():
                time.sleep(0.02)
        _killpg(pid, signal.SIGKILL)
        self._kernel_pid = None
        import shutil

        shutil.rmtree(self._kernel_dir, ignore_errors=True)

    def _kernel_alive(self):
        process = getattr(self.km.provisioner, "process", None) if self.km is not None else None
        if process is None:
            return False
        try:
            return process.poll() is None
        except Exception:
            return False

    def run(self):
        try:
            return Runner.run(self)
        finally:
            try:
                if self.kc is not None:
                    self.kc.stop_channels()
            except Exception:
                pass
            self.stop_kernel()

    def cancel(self, why, exit_code=EXIT_CANCELLED, step=None):
        if self._finish_lock.locked():
            return
        # Which cell was running, before the kernel's end lets the main thread move on.
        step = step or self.current
        # The cells get SIGTERM too (a checkpoint handler may run), then the kernel goes.
        self.stop_kernel(grace=self.KILL_GRACE_S)
        Runner.cancel(self, why, exit_code, step)

    # ---- talking to the kernel --------------------------------------------------------------------

    def _request(self, code, silent, user_expressions=None, on_output=None):
        """Executes code; returns the execute_reply content. Raises KernelDied."""
        import queue

        kc = self.kc
        msg_id = kc.execute(code, silent=silent, store_history=not silent,
                            user_expressions=user_expressions or {}, allow_stdin=False)
        idle = False
        while not idle:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                if not self._kernel_alive():
                    raise KernelDied()
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status":
                idle = msg["content"].get("execution_state") == "idle"
            elif on_output is not None:
                on_output(kind, msg["content"])
        while True:
            try:
                reply = kc.get_shell_msg(timeout=1)
            except queue.Empty:
                if not self._kernel_alive():
                    raise KernelDied()
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return reply["content"]

    def _call(self, code):
        reply = self._request(code, silent=True)
        if reply.get("status") != "ok":
            raise RuntimeError("kernel: %s: %s" % (reply.get("ename"), reply.get("evalue")))

    def _expr(self, expression):
        """Evaluates `_cellpipe_kernel.<expression>` in the kernel; returns its JSON result."""
        import ast
        import json

        reply = self._request("", silent=True,
                              user_expressions={"r": "__import__('_cellpipe_kernel')." + expression})
        result = reply.get("user_expressions", {}).get("r", {})
        if result.get("status") != "ok":
            raise RuntimeError("kernel: %s: %s" % (result.get("ename"), result.get("evalue")))
        return json.loads(ast.literal_eval(result["data"]["text/plain"]))

    # ---- engine hooks -----------------------------------------------------------------------------

    def _load_variable(self, name, path, final):
        return self._expr("kernel_load(%r, %r, %r)" % (name, path, final))

    def _save_variable(self, name, vars_dir):
        return self._expr("kernel_save(%r, %r)" % (name, vars_dir))

    def _bind(self, name, value):
        import json

        self._expr("kernel_bind(%r, %r)" % (name, json.dumps(value)))

    def _execute(self, step):
        # `Cell In[N]` in IPython's tracebacks then names the notebook position, like `<cell N>`.
        self._call("get_ipython().execution_count = %d" % step.position)
        try:
            reply = self._request(step.source, silent=False, on_output=lambda kind, content: self._on_output(step, kind, content))
        except KernelDied:
            raise KernelDied(step.position)
        if reply.get("status") == "ok":
            return
        ename = reply.get("ename") or "Error"
        evalue = reply.get("evalue") or ""
        if ename == "SystemExit":
            if evalue in ("", "0", "None"):
                self._log("cell %d called sys.exit(%s): remaining cells skipped" % (step.position, evalue or None))
                raise _StopTask()
            raise TaskFailure("cell %d exited with sys.exit(%s)" % (step.position, evalue), "exit",
                              ename="SystemExit", cell=step.position)
        if ename == "KeyboardInterrupt":
            raise KeyboardInterrupt()
        tb = _strip_ansi("\n".join(reply.get("traceback") or [])).strip("\n") + "\n"
        reason = "exception"
        if ename in ("SyntaxError", "IndentationError", "TabError"):
            reason = "syntax"
        elif ename == "MemoryError":
            reason = "oom"
        message = "%s: %s" % (ename, evalue) if evalue else ename
        raise TaskFailure(message, reason, ename=ename, traceback=tb, cell=step.position)

    def _on_output(self, step, kind, content):
        if kind == "stream":
            name = content.get("name", "stdout")
            text = content.get("text", "")
            self._capture(name, text)
            (self._real_stderr if name == "stderr" else self._real_stdout).write(text)
        elif kind in ("execute_result", "display_data"):
            out = {"output_type": kind, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
            if kind == "execute_result":
                out["execution_count"] = step.execution_count
            else:
                self._real_stdout.write(str(out["data"].get("text/plain", "")) + "\n")
            step.outputs.append(out)
        elif kind == "error":
            step.outputs.append({"output_type": "error", "ename": content.get("ename", ""),
                                 "evalue": content.get("evalue", ""), "traceback": content.get("traceback", [])})
        elif kind == "clear_output":
            del step.outputs[:]


def _killpg(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except OSError:
            pass


# Called inside the kernel (this file imported there as `_cellpipe_kernel`); results are JSON text.


def _user_ns():
    from IPython import get_ipython

    return get_ipython().user_ns


def kernel_prepare(argv, file, path0):
    import json

    sys.argv = list(argv)
    if file:
        _user_ns()["__file__"] = file
    if path0 is not None and path0 not in sys.path:
        sys.path.insert(0, path0)
    return json.dumps(True)


def kernel_load(name, path, final):
    import json

    return json.dumps(load_variable(_user_ns(), name, path, final))


def kernel_save(name, vars_dir):
    import json

    return json.dumps(save_variable(_user_ns(), name, vars_dir))


def kernel_bind(name, value_json):
    import json

    _user_ns()[name] = json.loads(value_json)
    return json.dumps(True)


def _silenced(source, node):
    """True when the cell's last expression ends with ';' (Jupyter then shows no result)."""
    end_line = getattr(node, "end_lineno", None)
    end_col = getattr(node, "end_col_offset", None)
    if end_line is None or end_col is None:
        return False
    lines = source.split("\n")
    if end_line > len(lines):
        return False
    rest = lines[end_line - 1].encode("utf-8")[end_col:].decode("utf-8", "replace")
    return rest.lstrip().startswith(";")


def format_user_traceback(exc, is_user_file):
    """The traceback text without the runner's frames (and the event loop's for top-level await)."""
    import traceback

    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    seen = set()
    pending = [(te, True)]
    while pending:
        item, top = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        frames = [f for f in item.stack if f.filename != RUNNER_FILE]
        if top:
            # Frames before the first cell frame belong to the machinery that ran the cell.
            for i, f in enumerate(frames):
                if is_user_file(f.filename):
                    frames = frames[i:]
                    break
            else:
                frames = []
        item.stack = traceback.StackSummary.from_list(frames)
        for nested in (item.__cause__, item.__context__):
            if nested is not None:
                pending.append((nested, False))
        for nested in getattr(item, "exceptions", None) or ():
            pending.append((nested, False))
    return "".join(te.format())


def _python_version():
    v = sys.version_info
    return "%d.%d.%d" % (v[0], v[1], v[2])


def _flush_quietly(*streams):
    for stream in streams:
        try:
            stream.flush()
        except Exception:
            pass


def _signal_module():
    # The C module behind `signal`: the same functions without building the enums (about 1 ms).
    try:
        import _signal

        return _signal
    except ImportError:
        import signal

        return signal


def _block_sigterm(how=None):
    signal = _signal_module()
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK if how is None else how, {signal.SIGTERM})
    except (AttributeError, ValueError, OSError):
        pass


def _unblock_sigterm():
    _block_sigterm(_signal_module().SIG_UNBLOCK)


def _reset_signals_in_child():
    signal = _signal_module()

    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError):
        pass
    _unblock_sigterm()  # blocked by _block_sigterm() around fork()


def _write_bad_task_result(path, field, message, started):
    """Best effort: a failed result.json next to the exit code 2, when task.json named a place."""
    try:
        import json

        with open(path, "rb") as f:
            raw = json.loads(f.read().decode("utf-8"))
        result_path = raw.get("resultPath") if isinstance(raw, dict) else None
        if not isinstance(result_path, str) or not os.path.isabs(result_path) or "\0" in result_path:
            return
        now = time.time()
        error = {"message": "bad task.json: %s" % message, "reason": "bad-task"}
        _write_json(result_path, {
            "status": "failed", "startedAt": _iso(started), "finishedAt": _iso(now),
            "durationMs": _ms(now - started), "cells": [], "outputs": [], "error": error,
        })
    except Exception:
        pass


def main(argv):
    started_wall, started_perf = time.time(), time.perf_counter()
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: python3 cellpipe_runner.py <task.json>\n")
        return EXIT_BAD_TASK
    try:
        task = load_task(argv[1])
    except BadTask as e:
        sys.stderr.write("cellpipe runner: bad task.json %s: %s\n" % (argv[1], e))
        _write_bad_task_result(argv[1], e.field, str(e), started_wall)
        return EXIT_BAD_TASK
    script_dir = os.path.dirname(os.path.abspath(argv[0])) if argv[0] else None
    engine = task["engine"]
    if engine == "auto":
        engine = "kernel" if _kernel_available() else "stdlib"
    runner_class = KernelRunner if engine == "kernel" else Runner
    return runner_class(task, started_wall, started_perf, script_dir).run()


RUNNER_FILE = main.__code__.co_filename
_RUNNER_PATH = __file__

if __name__ == "__main__":
    # Keep the runner's own module alive once user code owns sys.modules["__main__"].
    _RUNNER_MODULE = sys.modules[__name__]
    sys.exit(main(sys.argv))
