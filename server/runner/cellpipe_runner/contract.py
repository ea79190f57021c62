"""task.json and result.json: the dataclass mirror of schema/src/runner-contract.ts.

The zod module is the source of truth; server/test/runner-contract.test.ts checks that the fields,
types and optionality declared here agree with the JSON Schema generated from it. Annotations are
strings (``from __future__ import annotations``) in a small grammar that ``parse_annotation`` reads:
``str``, ``int``, ``float`` (any JSON number), ``bool``, ``object`` (any JSON value), ``list[T]``,
``dict[str, T]``, ``T | None`` and the classes of this module. A field with a default may be left out
of the JSON; ``T | None`` without a default must be present and may be null. ``metadata`` holds what
JSON types cannot say: the JSON key when it is a Python keyword, allowed values and value checks.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, field, fields

KINDS = ("cells", "notebook", "script")
ENGINES = ("stdlib", "ipython", "kernel", "auto")
DEFINITION_KINDS = ("import", "function", "class", "state")
STATUSES = ("succeeded", "failed", "cancelled")
ROLES = ("setup", "task")
STORE_KINDS = ("files", "server")
USAGE_MODES = ("container", "process")
USAGE_SOURCES = ("cgroup-v2", "cgroup-v1", "rusage")

_TASK_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class BadTask(Exception):
    """task.json is malformed; ``field`` is the JSON path of the offending value."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message) if field else message)
        self.field = field


def _meta(json=None, check=None, choices=None, items=None, keys=None):
    """Field metadata: the JSON key, a value check, allowed values, a check of each list item or
    dict key (checks: identifier, task-name, abspath, id, min0, min1)."""
    meta = {}
    for key, value in (("json", json), ("check", check), ("choices", choices), ("items", items), ("keys", keys)):
        if value is not None:
            meta[key] = value
    return meta


# ---- task.json -------------------------------------------------------------------------------------
# Every class has a docstring: dataclasses would otherwise compute one from the signature (inspect).


@dataclass(eq=False, repr=False)
class Cell:
    """A notebook cell: its 0-based index, its source and the tags the runner honours."""

    index: int = field(metadata=_meta(check="min0"))
    source: str
    # "raises-exception": an error in the cell is recorded in its outputs and the run goes on.
    tags: list[str] = field(default_factory=list)


@dataclass(eq=False, repr=False)
class Input:
    """An upstream task's output this task reads."""

    name: str = field(metadata=_meta(check="identifier"))
    from_: str = field(metadata=_meta(json="from", check="task-name"))
    # The analysis decided the task does not change this input in place; the runner checks it.
    readOnly: bool = False


@dataclass(eq=False, repr=False)
class Definition:
    """An import, function or class bound in another task, or a statement of an earlier task that
    sets module state (``state``), run here from its source."""

    kind: str = field(metadata=_meta(choices=DEFINITION_KINDS))
    names: list[str] = field(metadata=_meta(items="identifier"))
    # 0-based notebook cell and 1-based line in that (dedented) cell where the statement starts.
    cell: int = field(metadata=_meta(check="min0"))
    line: int = field(metadata=_meta(check="min1"))
    source: str


@dataclass(eq=False, repr=False)
class DataStore:
    """Where inputs come from and outputs go: the server's files, or the server over HTTP."""

    kind: str = field(metadata=_meta(choices=STORE_KINDS))
    # server: the task-data API root and the file holding the attempt's token.
    url: str | None = None
    tokenFile: str | None = field(default=None, metadata=_meta(check="abspath"))
    # server: how long a failed transfer is retried before the task fails.
    retrySeconds: int | None = field(default=None, metadata=_meta(check="min0"))


@dataclass(eq=False, repr=False)
class ResultLimits:
    """What the task may publish as results (cellpipe.report, metrics.json)."""

    count: int = field(metadata=_meta(check="min0"))
    bytes: int = field(metadata=_meta(check="min0"))
    nameChars: int = field(metadata=_meta(check="min1"))
    stringChars: int = field(metadata=_meta(check="min0"))


@dataclass(eq=False, repr=False)
class Limits:
    """The server's limits on what the runner reports (its limits.errorBytes and limits.resultBytes)."""

    # Bytes kept of the error message and of the traceback, each (and of each warning's message).
    errorBytes: int = field(metadata=_meta(check="min1"))
    # The largest result.json the server reads.
    resultBytes: int = field(metadata=_meta(check="min1"))


@dataclass(eq=False, repr=False)
class Task:
    """task.json: one attempt of one task."""

    jobId: str = field(metadata=_meta(check="id"))
    taskId: str = field(metadata=_meta(check="id"))
    taskName: str = field(metadata=_meta(check="task-name"))
    artifactRoot: str = field(metadata=_meta(check="abspath"))
    outputDir: str = field(metadata=_meta(check="abspath"))
    resultPath: str = field(metadata=_meta(check="abspath"))
    notebookPath: str = field(metadata=_meta(check="abspath"))
    attempt: int = 1
    cellOffset: int = 1
    kind: str = field(default="cells", metadata=_meta(choices=KINDS))
    setup: list[Cell] = field(default_factory=list)
    # Required unless a notebook or script task names its sourcePath (the runner then reads the file).
    cells: list[Cell] | None = None
    inputs: list[Input] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list, metadata=_meta(items="identifier"))
    parameters: dict[str, object] = field(default_factory=dict, metadata=_meta(keys="identifier"))
    parametersCell: int | None = field(default=None, metadata=_meta(check="min0"))
    sourcePath: str | None = None
    # Absent: the CELLPIPE_RUNNER_ENGINE environment variable, else auto.
    engine: str | None = field(default=None, metadata=_meta(choices=ENGINES))
    definitions: list[Definition] = field(default_factory=list)
    # Output name -> 0-based cell where the task last binds it (named when it cannot be passed on).
    outputOrigins: dict[str, int] = field(default_factory=dict, metadata=_meta(keys="identifier", items="min0"))
    # Absent: files (the paths above are the server's own).
    dataStore: DataStore | None = None
    # The job's working folder, shared by its tasks; absent: the folder the runner was started in.
    workDir: str | None = field(default=None, metadata=_meta(check="abspath"))
    # Every task this one depends on, directly or not (files used by both are then in order).
    upstream: list[str] = field(default_factory=list, metadata=_meta(items="task-name"))
    # Absent: results are checked for names and types only.
    resultLimits: ResultLimits | None = None
    # Absent: the server's defaults (limits.DEFAULT_ERROR_BYTES, limits.DEFAULT_RESULT_BYTES).
    limits: Limits | None = None
    # What the runner may measure of the task's resource use (usage.py); absent: process.
    usage: str | None = field(default=None, metadata=_meta(choices=USAGE_MODES))


# ---- result.json -----------------------------------------------------------------------------------


@dataclass(eq=False, repr=False)
class CellTiming:
    """A cell that ran and how long it took."""

    index: int
    position: int
    role: str = field(metadata=_meta(choices=ROLES))
    durationMs: int


@dataclass(eq=False, repr=False)
class OutputDetail:
    """An output saved: its type and size."""

    name: str
    type: str
    bytes: int


@dataclass(eq=False, repr=False)
class Note:
    """Something the stdlib engine skipped or emulated."""

    # 1-based notebook position; null for the injected parameters.
    cell: int | None
    message: str


@dataclass(eq=False, repr=False)
class ResultWarning:
    """A non-fatal finding; ``kind`` "input-mutated": a read-only input changed in place."""

    kind: str
    message: str
    variable: str | None = None
    task: str | None = None
    # 0-based notebook cell index, and its 1-based position.
    cell: int | None = None
    position: int | None = None


@dataclass(eq=False, repr=False)
class RunnerInfo:
    """Which runner, engine and Python ran the task."""

    version: str
    engine: str = field(metadata=_meta(choices=("stdlib", "ipython", "kernel")))
    python: str


@dataclass(eq=False, repr=False)
class ResultError:
    """Why a run did not succeed."""

    message: str
    reason: str
    ename: str | None = None
    traceback: str | None = None
    # 1-based notebook position of the cell concerned.
    cell: int | None = None


@dataclass(eq=False, repr=False)
class UsageSources:
    """Where each number of ``Usage`` came from."""

    memory: str | None = field(default=None, metadata=_meta(choices=USAGE_SOURCES))
    cpu: str | None = field(default=None, metadata=_meta(choices=USAGE_SOURCES))
    gpu: str | None = field(default=None, metadata=_meta(choices=("nvidia-smi",)))


@dataclass(eq=False, repr=False)
class Usage:
    """What the task used, as the runner measured it (usage.py)."""

    peakMemoryBytes: int | None = None
    cpuSeconds: float | None = None
    gpuUtilizationMeanPercent: float | None = None
    gpuUtilizationPeakPercent: float | None = None
    gpuMemoryPeakBytes: int | None = None
    # Processes of the task the kernel's OOM killer ended (the runner survived them).
    oomKills: int | None = None
    sources: UsageSources | None = None


@dataclass(eq=False, repr=False)
class Result:
    """result.json."""

    status: str = field(metadata=_meta(choices=STATUSES))
    startedAt: str
    finishedAt: str
    durationMs: int
    cells: list[CellTiming]
    outputs: list[str]
    outputDetails: list[OutputDetail]
    artifacts: list[str]
    notes: list[Note]
    warnings: list[ResultWarning]
    runner: RunnerInfo
    error: ResultError | None = None
    # What the task published (cellpipe.report, metrics.json), by name.
    results: dict[str, object] | None = None
    # What the task used, where the runner could measure it.
    usage: Usage | None = None


CLASSES = {
    c.__name__: c
    for c in (
        Cell,
        Input,
        Definition,
        DataStore,
        ResultLimits,
        Limits,
        Task,
        CellTiming,
        OutputDetail,
        Note,
        ResultWarning,
        RunnerInfo,
        ResultError,
        UsageSources,
        Usage,
        Result,
    )
}


# ---- annotations ------------------------------------------------------------------------------------


def parse_annotation(text):
    """A field's annotation as a tuple: ("str"|"int"|"float"|"bool"|"any",), ("list", T), ("dict", T),
    ("nullable", T) or ("class", name)."""
    text = text.strip()
    if text.endswith("| None"):
        return ("nullable", parse_annotation(text[: -len("| None")]))
    if text.startswith("list[") and text.endswith("]"):
        return ("list", parse_annotation(text[5:-1]))
    if text.startswith("dict[str,") and text.endswith("]"):
        return ("dict", parse_annotation(text[len("dict[str,") : -1]))
    if text in ("str", "int", "float", "bool"):
        return (text,)
    if text == "object":
        return ("any",)
    if text in CLASSES:
        return ("class", text)
    raise ValueError("unsupported annotation %r" % text)


_PARSED = {}


def _fields_of(cls):
    got = _PARSED.get(cls)
    if got is None:
        got = []
        for f in fields(cls):
            required = f.default is MISSING and f.default_factory is MISSING
            got.append((f, f.metadata.get("json", f.name), parse_annotation(f.type), required))
        _PARSED[cls] = got
    return got


# ---- reading JSON into the dataclasses --------------------------------------------------------------


def json_type(value):
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


def normalize_identifier(name):
    """Python folds identifiers with NFKC (`𝜋` binds `π`): names compare and bind as Python does."""
    if isinstance(name, str) and not name.isascii():
        import unicodedata

        return unicodedata.normalize("NFKC", name)
    return name


def is_identifier(name):
    import keyword

    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def is_task_name(name):
    # Same rule as the spec's TaskNameSchema; the name becomes a directory under artifactRoot.
    return (
        isinstance(name, str)
        and 1 <= len(name) <= 63
        and name[0].isascii()
        and name[0].isalpha()
        and all(c in _TASK_NAME_CHARS for c in name)
    )


def _check(kind, value, path):
    """Applies a metadata check; returns the (normalized) value or raises BadTask."""
    if kind == "identifier":
        value = normalize_identifier(value)
        if not is_identifier(value):
            raise BadTask(path, "not a Python identifier: %r" % (value,))
    elif kind == "task-name":
        if not is_task_name(value):
            raise BadTask(path, "not a task name: %r" % (value,))
    elif kind == "abspath":
        if not (os.path.isabs(value) and "\0" not in value):
            raise BadTask(path, "expected an absolute path, got %r" % (value,))
    elif kind == "id":
        if not value or "\0" in value:
            raise BadTask(path, "must be a non-empty string without NUL characters")
    elif kind == "min0":
        if value < 0:
            raise BadTask(path, "must be >= 0")
    elif kind == "min1":
        if value < 1:
            raise BadTask(path, "must be >= 1")
    return value


_EXPECTED = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "list": "an array",
    "dict": "an object",
    "class": "an object",
}


def _value(ann, value, path, item_check=None, key_check=None):
    kind = ann[0]
    if kind == "nullable":
        return None if value is None else _value(ann[1], value, path, item_check, key_check)
    if kind == "any":
        return value
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list": isinstance(value, list),
        "dict": isinstance(value, dict),
        "class": isinstance(value, dict),
    }[kind]
    if not ok:
        raise BadTask(path, "expected %s, got %s" % (_EXPECTED[kind], json_type(value)))
    if kind == "list":
        out = []
        for i, item in enumerate(value):
            at = "%s[%d]" % (path, i)
            item = _value(ann[1], item, at)
            out.append(_check(item_check, item, at) if item_check else item)
        return out
    if kind == "dict":
        out = {}
        for key, item in value.items():
            at = "%s.%s" % (path, key)
            if key_check:
                key = normalize_identifier(key)
                if key_check == "identifier" and not is_identifier(key):
                    raise BadTask(at, "not a Python identifier")
            item = _value(ann[1], item, at)
            out[key] = _check(item_check, item, at) if item_check else item
        return out
    if kind == "class":
        return from_json(CLASSES[ann[1]], value, path)
    return value


def from_json(cls, obj, path=""):
    """Builds cls from a parsed JSON object, checking every field; raises BadTask naming the field."""
    if not isinstance(obj, dict):
        raise BadTask(path, "expected an object, got %s" % json_type(obj))
    values = {}
    for f, key, ann, required in _fields_of(cls):
        at = "%s.%s" % (path, key) if path else key
        present = key in obj and not (obj[key] is None and not required)
        if not present:
            if required:
                raise BadTask(at, "is required")
            continue
        meta = f.metadata
        value = _value(ann, obj[key], at, meta.get("items"), meta.get("keys"))
        if value is not None:
            if "check" in meta:
                value = _check(meta["check"], value, at)
            choices = meta.get("choices")
            if choices and value not in choices:
                raise BadTask(at, "expected one of %s, got %r" % (", ".join(choices), value))
        values[f.name] = value
    return cls(**values)


def to_json(obj):
    """A dataclass as JSON-ready dicts and lists; optional fields that are None are left out."""
    if isinstance(obj, list):
        return [to_json(item) for item in obj]
    if not hasattr(obj, "__dataclass_fields__"):
        return obj
    out = {}
    for f, key, _ann, required in _fields_of(type(obj)):
        value = getattr(obj, f.name)
        if value is None and not required:
            continue
        out[key] = to_json(value)
    return out


# ---- task.json ----------------------------------------------------------------------------------------


def load_task(path):
    """Reads and checks task.json; returns a Task or raises BadTask."""
    import json

    try:
        with open(path, "rb") as f:
            raw = json.loads(f.read().decode("utf-8"))
    except OSError as e:
        raise BadTask("", "cannot read %s: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise BadTask("", "%s is not valid JSON: %s" % (path, e))
    if not isinstance(raw, dict):
        raise BadTask("", "expected a JSON object at the top level, got %s" % json_type(raw))
    task = from_json(Task, raw)
    if task.engine is None:
        engine = os.environ.get("CELLPIPE_RUNNER_ENGINE") or "auto"
        if engine not in ENGINES:
            raise BadTask("CELLPIPE_RUNNER_ENGINE", "expected one of %s, got %r" % (", ".join(ENGINES), engine))
        task.engine = engine
    if task.cells is None and (task.kind == "cells" or not task.sourcePath):
        raise BadTask("cells", "is required")
    store = task.dataStore
    if store is not None and store.kind == "server":
        for key in ("url", "tokenFile"):
            if getattr(store, key) is None:
                raise BadTask("dataStore." + key, "is required when kind is server")
        if not store.url.startswith(("http://", "https://")):
            raise BadTask("dataStore.url", "expected an http(s) URL, got %r" % store.url)
    seen = set()
    for i, item in enumerate(task.inputs):
        if item.name in seen:
            raise BadTask("inputs[%d].name" % i, "%r is already an input" % item.name)
        seen.add(item.name)
    task.outputs = list(dict.fromkeys(task.outputs))
    if task.cells is None:
        from .sources import read_source_file

        read_source_file(task)
    return task
