"""The files of the job's working folder a task opens, so that file traffic the compiler could not see
(a path built at run time) is reported, never silent.

The tasks of a job share one working folder; a file passes from one task to another only along
dependencies (schema/README.md, "The working folder"). Python's audit hook (PEP 578) sees every
``open`` (``open()``, ``io.open``, ``os.open``: pandas, NumPy and matplotlib open their files so),
and renames and removals. At its end each task leaves what it used in ``<outputDir>/files-used.json``
and compares it with what the job's other tasks left: two tasks that do not depend on each other and
used one file, at least one of them writing it, get a ``file-order`` warning (from whichever of
them ends second). Where the folder is shared with no other task (the server data store), each
file a task writes there gets a ``file-not-shared`` warning. Files that C libraries open themselves
(HDF5, SQLite) are not seen.

The same records carry the global random generators each task used (globalrandom.py): a task that
draws from one without seeding it first, after a task before it in the notebook used it, gets a
``random-state`` warning.
"""

import json
import os
import sys

from .contract import ResultWarning
from .globalrandom import GlobalRandom

RECORD = "files-used.json"
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
# Most file names a warning lists.
SHOWN = 5


def start(task, engine):
    """Watches the task's files from now on, where its cells run in this process (not a kernel's)."""
    if engine not in ("stdlib", "ipython") or task.workDir is None:
        return None
    # Outputs are saved under artifactRoot while the hook is on; result.json and the executed
    # notebook are written once it is off (finish).
    use = FileUse(task.workDir, [task.artifactRoot])
    use.code = "\n".join(c.source for c in (task.cells or []))
    # Setup cells run in every task, so what they do with files orders no task: watched from the
    # task's own cells on.
    use.active = False
    use.install()
    return use


def before_cells(use):
    """The setup cells have run: the task's own use of files and of the global random state starts."""
    if use is not None:
        use.active = True
        use.random.start(use.code)


def finish(use, task):
    """The task's file warnings; trouble with the records costs the check, never the task."""
    if use is None:
        return []
    use.active = False
    try:
        return use.finish(task, task.dataStore is None or task.dataStore.kind == "files")
    except Exception as e:
        return [ResultWarning(kind="file-use", message="the files the task used were not checked: %s" % e)]


class FileUse(object):
    """Records, from the moment it is installed, the files under ``root`` that this process opens
    (not those under ``exclude``: the runner's own)."""

    def __init__(self, root, exclude=()):
        self.root = os.path.join(os.path.abspath(root), "")
        self.exclude = tuple(os.path.join(os.path.abspath(p), "") for p in exclude)
        self.active = True
        self.read = set()
        self.written = set()
        self.random = GlobalRandom()
        self.code = ""

    def install(self):
        sys.addaudithook(self._hook)

    def _relative(self, path):
        if isinstance(path, int):
            return None  # a file descriptor: opened before, by path
        path = os.path.abspath(os.fsdecode(path))
        if not path.startswith(self.root) or path.startswith(self.exclude):
            return None
        rel = path[len(self.root) :]
        # Imports of the notebook's own modules write their bytecode: not the notebook's files.
        if not rel or "__pycache__" in rel.split(os.sep):
            return None
        return rel

    def _hook(self, event, args):
        # An exception here would fail the user's open(): nothing may escape.
        try:
            if not self.active:
                return
            if event == "open":
                path, mode, flags = args
                rel = self._relative(path)
                if rel is None:
                    return
                writes = (flags or 0) & WRITE_FLAGS if mode is None else any(c in mode for c in "wax+")
                (self.written if writes else self.read).add(rel)
            elif event in ("os.rename", "os.replace"):
                for path in args[:2]:
                    rel = self._relative(path)
                    if rel is not None:
                        self.written.add(rel)
            elif event in ("os.remove", "os.unlink"):
                rel = self._relative(args[0])
                if rel is not None:
                    self.written.add(rel)
        except Exception:
            pass

    def finish(self, task, shared):
        """The warnings of this task: ``shared``, the working folder is the job's other tasks' too."""
        if not shared:
            return self._not_shared(task)
        mine = {
            "task": task.taskName,
            "first": min((c.index for c in task.cells or []), default=0),
            "upstream": sorted(task.upstream),
            "read": sorted(self.read - self.written),
            "written": sorted(self.written),
            "random": self.random.summary(),
        }
        _write_json(os.path.join(task.outputDir, RECORD), mine)
        warnings = []
        others = list(_records(task.artifactRoot, task.taskName))
        warnings.extend(_random_warnings(task, mine, others))
        for other in others:
            if other["task"] in task.upstream or task.taskName in other.get("upstream", ()):
                continue
            files = sorted(
                set(mine["written"]) & (set(other["read"]) | set(other["written"]))
                | set(mine["read"]) & set(other["written"])
            )
            if files:
                warnings.append(_order_warning(task, mine, other, files))
        return warnings

    def _not_shared(self, task):
        if not self.written:
            return []
        files = sorted(self.written)
        return [
            ResultWarning(
                kind="file-not-shared",
                message=(
                    "task '%s' wrote %s in its working folder, which no other task of the job sees on this "
                    "executor: write what later tasks need under $CELLPIPE_OUTPUT_DIR and read it from "
                    "$CELLPIPE_INPUT_DIR/%s/files" % (task.taskName, _names(files), task.taskName)
                ),
                task=task.taskName,
            )
        ]


def _order_warning(task, mine, other, files):
    earlier, later = (other, mine) if (other["first"], other["task"]) < (mine["first"], mine["task"]) else (mine, other)
    message = (
        "tasks '%s' and '%s' both use %s in the working folder (%s), but neither depends on the other: they "
        "may run in either order or at once, so '%s' may not find what a top-to-bottom run gives it; make "
        "'%s' depend on '%s' (after:%s, or write the path as a string literal in both)"
        % (
            earlier["task"],
            later["task"],
            _names(files),
            _roles(earlier, later, files),
            later["task"],
            later["task"],
            earlier["task"],
            earlier["task"],
        )
    )
    # On the task that may not find what a top-to-bottom run gives it, whichever task reports it.
    return ResultWarning(kind="file-order", message=message, task=later["task"])


def _random_warnings(task, mine, others):
    """For each task that continues a generator a task before it used: one warning, if this task
    ends second (it sees the other's record)."""
    everyone = [mine] + others
    out = []
    for later in everyone:
        for name, use in sorted((later.get("random") or {}).items()):
            if not (isinstance(use, dict) and use.get("continues")):
                continue
            before = [
                r["task"]
                for r in everyone
                if r is not later and _order(r) < _order(later) and name in (r.get("random") or {})
            ]
            # Reported by the task that ends second: this one, and it is one of the two.
            if not before or (later is not mine and mine["task"] not in before):
                continue
            out.append(
                ResultWarning(
                    kind="random-state",
                    message=(
                        "task '%s' draws from the global random state of %s without seeding it first, and %s "
                        "before it in the notebook used it too: each task starts it afresh from the setup "
                        "cells, so '%s' does not get the numbers a top-to-bottom run gives it; pass a "
                        "generator between tasks (numpy.random.default_rng(seed), random.Random(seed)) or "
                        "seed it in '%s'" % (later["task"], name, _tasks(sorted(before)), later["task"], later["task"])
                    ),
                    variable=name,
                    task=later["task"],
                )
            )
    return out


def _order(record):
    return (record["first"], record["task"])


def _tasks(names):
    return ("task '%s'" % names[0]) if len(names) == 1 else "tasks " + ", ".join("'%s'" % n for n in names)


def _roles(earlier, later, files):
    def role(r):
        wrote = [f for f in files if f in r["written"]]
        return "'%s' %s" % (r["task"], "writes" if wrote else "reads")

    return "%s, %s" % (role(earlier), role(later))


def _names(files):
    shown = ", ".join("'%s'" % f for f in files[:SHOWN])
    return shown + (" and %d more" % (len(files) - SHOWN) if len(files) > SHOWN else "")


def _records(artifact_root, me):
    try:
        names = sorted(os.listdir(artifact_root))
    except OSError:
        return
    for name in names:
        if name == me:
            continue
        try:
            with open(os.path.join(artifact_root, name, RECORD)) as f:
                record = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("task"), str):
            record.setdefault("read", [])
            record.setdefault("written", [])
            record.setdefault("first", 0)
            yield record


def _write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)
