"""The stdlib engine: the cells run in this process, in a fresh ``__main__`` module.

A run: run the setup cells, the parameters (an ``injected-parameters`` cell right after the
parameters cell, or before the task's cells) and, before the task's first cell, read inputs, run the
definitions passed by source and read the inputs that needed them; then the task's cells, checking read-only inputs
for in-place changes (after each cell, or once at the end for values costly to fingerprint); save the
outputs; write the executed notebook and result.json.
``KernelRunner`` (kernel.py) overrides the hooks marked "engine hook" to do the same in a kernel.
"""

import os
import sys
import time

from . import fileuse, results, workdir
from .contract import Note, OutputDetail, ResultError, ResultWarning
from .failures import (
    EXIT_CANCELLED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TASK_FAILED,
    StopTask,
    TaskFailure,
    cell_failure,
    safe_str,
)
from .outputs import CellOutputs
from .streams import MARKER_PREFIX, Tee, flush_quietly, line_buffered

# Cell failures a `raises-exception` tag lets the run go on after, as nbclient does (not a dead kernel).
CONTINUABLE = ("exception", "syntax", "oom")


def json_compact(value):
    import json

    return json.dumps(value, separators=(",", ":"))


# Read-only inputs whose fingerprint hashes at most this many bytes of pickle stream (a few
# milliseconds of work) are checked after every task cell; bigger ones once the cells are done.
EACH_CELL_FINGERPRINT_BYTES = 2 << 20
# How long a cancelled run tries to publish its notebook and result (it has a grace period to end in).
CANCEL_PUBLISH_SECONDS = 10


class Step(object):
    """One notebook cell the run executes (setup, injected parameters or task cell)."""

    __slots__ = (
        "role",
        "index",
        "source",
        "raises",
        "position",
        "filename",
        "outputs",
        "execution_count",
        "duration",
        "started",
        "status",
    )

    def __init__(self, role, index, source, position, filename, raises=False):
        self.role = role
        self.index = index
        self.source = source
        # Tagged raises-exception: an error is recorded in the outputs and the run goes on.
        self.raises = raises
        self.position = position
        self.filename = filename
        self.outputs = []
        self.execution_count = None
        self.duration = None
        self.started = None
        self.status = "pending"


class Runner(object):
    """The stdlib engine."""

    ENGINE = "stdlib"

    def __init__(self, task, started_wall, started_perf, home=None):
        from .data import store_for_task

        self.task = task
        # Where the runner's package was imported from (the zipapp, or its source folder).
        self.home = home
        self.started_wall = started_wall
        self.started_perf = started_perf
        self.store = store_for_task(task)
        self.steps = []
        self.current = None
        self.capture = CellOutputs()
        self.namespace = None
        # The stdlib engine's In / Out / _ names (history.py); other engines have IPython's own.
        self.history = None
        self.notes = []
        self.warnings = []
        self.file_use = None
        self.outputs_saved = []
        self.output_details = []
        self.execution_count = 0
        self._sources = {}
        # Read-only inputs: fingerprint before the task's cells, and whether a change was reported.
        self._fingerprints = {}
        # The objects read-only inputs were loaded as (the task may rebind the names): only those are
        # kept, so a task that deletes an input to free its memory still frees it.
        self._loaded = {}
        # Names of the notebook's functions and classes pickled by reference (pickling.py), once known.
        self._by_source = None
        self.sigterm = None
        # The cell whose sys.exit() ended the run, if one did.
        self._exit_cell = None
        self._finish_lock = None
        self._loop = None
        self._real_stdout = sys.stdout
        self._real_stderr = sys.stderr
        # What the task published; None until collected when the run ends.
        self.results = None
        # What the task uses (usage.py), started with the run.
        self.meter = None

    # ---- plan -------------------------------------------------------------------------------------

    def plan(self):
        t = self.task
        offset = t.cellOffset
        script = t.kind == "script"
        pcell = t.parametersCell
        params = t.parameters
        injected = False

        def filename(position):
            if script and t.sourcePath:
                return t.sourcePath
            return "<cell %d>" % position

        def add(role, cell):
            nonlocal injected
            position = cell.index + offset
            raises = "raises-exception" in cell.tags
            self.steps.append(Step(role, cell.index, cell.source, position, filename(position), raises))
            if params and not injected and pcell is not None and cell.index == pcell:
                self.steps.append(self._parameters_step())
                injected = True

        for cell in t.setup:
            add("setup", cell)
        first_task_step = len(self.steps)
        for cell in t.cells:
            add("task", cell)
        if params and not injected:
            # No parameters cell among the executed cells: overrides go before the task's cells.
            self.steps.insert(first_task_step, self._parameters_step())

    def _parameters_step(self):
        lines = ["# Parameters"]
        for name, value in self.task.parameters.items():
            lines.append("%s = %r" % (name, value))
        return Step("parameters", None, "\n".join(lines) + "\n", None, "<injected-parameters>")

    # ---- environment ------------------------------------------------------------------------------

    def prepare_folders_and_env(self):
        t = self.task
        files_dir = os.path.join(t.outputDir, "files")
        os.makedirs(files_dir, exist_ok=True)
        os.makedirs(os.path.join(t.outputDir, "vars"), exist_ok=True)
        os.environ["CELLPIPE_JOB_ID"] = t.jobId
        os.environ["CELLPIPE_TASK_ID"] = t.taskId
        os.environ["CELLPIPE_TASK_NAME"] = t.taskName
        os.environ["CELLPIPE_OUTPUT_DIR"] = files_dir
        os.environ["CELLPIPE_INPUT_DIR"] = t.artifactRoot
        # `cellpipe.report(...)` in the cells (and in processes they start) appends here.
        from .reporting import ENV_FILE, ENV_LIMITS, RESULTS_FILE

        os.environ[ENV_FILE] = os.path.join(t.outputDir, RESULTS_FILE)
        if t.resultLimits is not None:
            from .contract import to_json

            os.environ[ENV_LIMITS] = json_compact(to_json(t.resultLimits))
        else:
            os.environ.pop(ENV_LIMITS, None)
        workdir.enter(t.workDir, create=t.dataStore is not None and t.dataStore.kind == "server")
        self.file_use = fileuse.start(t, self.ENGINE)
        self._real_stdout = line_buffered(sys.stdout)
        self._real_stderr = line_buffered(sys.stderr)

    def user_argv_file_path0(self):
        """sys.argv, __file__ and sys.path[0] the user's code sees (None: leave as is)."""
        t = self.task
        if t.kind == "script" and t.sourcePath:
            if not os.path.isfile(t.sourcePath):
                return [t.sourcePath], None, ""  # only a name for tracebacks and argv
            script = os.path.abspath(t.sourcePath)
            return [t.sourcePath], script, os.path.dirname(script)
        return [t.taskName], None, ""

    def prepare(self):
        self.prepare_main()
        self.install_emulation()
        if self.task.kind != "script":  # python3 script.py has no In / Out
            from .history import History

            self.history = History(self.namespace)

    def install_emulation(self):
        """The builtins that emulated IPython syntax calls (ipython.py), and display() where none is."""
        from . import ipython

        builtins = sys.modules["builtins"]
        builtins._cellpipe_time = ipython.Timer
        builtins._cellpipe_time_eval = ipython.time_eval
        builtins._cellpipe_timeit = ipython.timeit
        if not hasattr(builtins, "display"):
            builtins.display = self.display

    def prepare_main(self):
        """Folders, environment, a fresh __main__ for the cells, sys.argv / sys.path, captured streams."""
        self.prepare_folders_and_env()
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
        # from the script's folder (python3 script.py), never from the runner's zipapp or folder,
        # which moves to the end of sys.path (the runner still imports its own modules lazily).
        if sys.path and self.home and os.path.abspath(sys.path[0] or ".") == self.home:
            sys.path[0] = path0
            sys.path.append(self.home)
        sys.stdout = Tee(self._real_stdout, "stdout", self.capture)
        sys.stderr = Tee(self._real_stderr, "stderr", self.capture)

    def display(self, *objs, **kwargs):
        """display() for code written for Jupyter: a display_data output, its text in the log."""
        from .display import mime_bundle

        for obj in objs:
            data = obj if kwargs.get("raw") and isinstance(obj, dict) else mime_bundle(obj)
            self.capture.add({"output_type": "display_data", "data": data, "metadata": {}})
            self._real_stdout.write(str(data.get("text/plain", "")) + "\n")

    def _log(self, message):
        self._real_stdout.write(MARKER_PREFIX + message + "\n")
        self._real_stdout.flush()

    def _note(self, step, message):
        where = "cell %d" % step.position if step.position is not None else "parameters"
        self.notes.append(Note(cell=step.position, message=message))
        self._log("note: %s: %s" % (where, message))
        # Also in the executed notebook, where a missing output would otherwise be a puzzle.
        step.outputs.append({"output_type": "stream", "name": "stderr", "_chunks": [MARKER_PREFIX + message + "\n"]})

    # ---- cancellation -----------------------------------------------------------------------------

    def install_signals(self):
        import _thread

        from .signals import Sigterm

        self._finish_lock = _thread.allocate_lock()
        self.sigterm = Sigterm(self.cancel, self._running_cell)
        self.sigterm.install()

    def _running_cell(self):
        return self.current.position if self.current is not None else self._exit_cell

    def cancel(self, why, exit_code=EXIT_CANCELLED, step=None):
        """Writes a cancelled result.json and exits at once; safe from a signal handler or thread."""
        if not self._finish_lock.acquire(False):
            return  # the run is already writing its result
        try:
            step = step or self.current
            if step is not None:
                step.status = "cancelled"
            cell = step.position if step is not None else self.sigterm.cell
            where = " while running cell %d" % cell if cell is not None else ""
            message = "cancelled by %s%s" % (why, where)
            try:
                self._real_stderr.write(MARKER_PREFIX + message + "\n")
            except Exception:
                pass
            # The pod's grace period is short: a server that does not answer is not waited for long.
            self._finish(
                "cancelled",
                ResultError(message=message, reason="cancelled", cell=cell),
                retry_seconds=CANCEL_PUBLISH_SECONDS,
            )
        finally:
            flush_quietly(self._real_stdout, self._real_stderr)
            os._exit(exit_code)

    # ---- inputs, definitions and outputs ----------------------------------------------------------

    def load_inputs(self, items, final):
        """Binds inputs into the namespace; returns the ones to retry once the classes and functions
        they need are defined (setup cells, definitions)."""
        deferred = []
        for item in items:
            problem = self._load_variable(item, final)
            if problem is None:
                continue
            if problem.get("defer"):
                deferred.append(item)
                continue
            raise self._input_failure(item, problem)
        return deferred

    def _load_variable(self, item, final):  # engine hook
        from .data import load_variable

        loaded = self._loaded if item.readOnly else None
        return load_variable(self.namespace, self.store, item.from_, item.name, final, loaded)

    def _input_failure(self, item, problem):
        if problem.get("missing"):
            return TaskFailure(
                "input '%s' from task '%s' not found: %s (does '%s' list '%s' in its outputs?)"
                % (item.name, item.from_, problem["where"], item.from_, item.name),
                "input",
            )
        if problem.get("io"):
            return TaskFailure(
                "input '%s' from task '%s' could not be read: %s" % (item.name, item.from_, problem["message"]),
                "input",
                ename=problem["ename"],
            )
        return TaskFailure(
            "input '%s' from task '%s' cannot be loaded: %s: %s. Its value needs a class or function "
            "this task does not define: define it at the top level of a notebook cell (pipelines "
            "pass such definitions by source), in a setup cell or in a module."
            % (item.name, item.from_, problem["ename"], problem["message"]),
            "input",
            ename=problem["ename"],
        )

    def before_task_cells(self):
        """Inputs, definitions, the inputs that needed them, then the read-only inputs' fingerprints.
        Inputs load after the setup cells and the parameters: a task's version of a name they bind
        is the one a top-to-bottom run has at this point."""
        t = self.task
        deferred = self.load_inputs(t.inputs, final=not t.definitions)
        if t.definitions:
            self._log("definitions")
            from .definitions import in_runs, sources_by_cell

            self._sources.update(sources_by_cell(t.definitions, t.cellOffset))
            for run in in_runs(t.definitions):
                # A statement that sets module state may read an input that waited for a class
                # defined before it (`sys.meta_path.append(finder)`).
                if deferred and run[0].kind == "state":
                    deferred = self.load_inputs(deferred, final=False)
                deferred = self._run_definitions_waiting(run, deferred)
        self.load_inputs(deferred, final=True)
        for item in t.inputs:
            if item.readOnly:
                fp, cost = self._measure(item.name)
                # A value this cheap to fingerprint is checked after every cell, so the warning names
                # the cell; a costlier one only once the cells are done.
                each_cell = cost <= EACH_CELL_FINGERPRINT_BYTES
                self._fingerprints[item.name] = {"fp": fp, "reported": False, "each_cell": each_cell}
        fileuse.before_cells(self.file_use)

    def _run_definitions_waiting(self, run, deferred):
        """Runs one run of definitions; returns the inputs still waiting. A definition may read an
        input that waits for a class (an annotation's type alias `Space = Union[set, Dist]`, with
        `Dist` defined before or after it): on NameError the waiting inputs that load now are loaded
        and the run goes on from that definition; if none loads, the definition runs after the
        others, with the inputs tried again before it (not when a later one binds its names)."""
        postponed = []
        problem = self._run_definitions(run)
        while problem is not None and deferred and problem["ename"] == "NameError":
            failed = run[problem["index"]]
            rest = run[problem["index"] + 1 :]
            waiting = len(deferred)
            deferred = self.load_inputs(deferred, final=False)
            if len(deferred) < waiting:
                run = run[problem["index"] :]
            elif any(set(d.names) & set(failed.names) for d in rest):
                break
            else:
                postponed.append(failed)
                run = rest
            problem = self._run_definitions(run) if run else None
        if problem is None and postponed:
            deferred = self.load_inputs(deferred, final=False)
            problem = self._run_definitions(postponed)
        if problem is not None:
            raise self._definition_failure(problem)
        return deferred

    def _run_definitions(self, definitions):  # engine hook
        from .definitions import run_definitions

        return run_definitions(self.namespace, definitions, self.task.cellOffset, self._is_user_file)

    def _definition_failure(self, problem):
        message = "cell %d, `%s` (%s): %s: %s" % (
            problem["position"],
            problem["statement"],
            "it sets module state in an earlier task, run here again by source"
            if problem["kind"] == "state"
            else "defined in another task, run here by source",
            problem["ename"],
            problem["message"],
        )
        return TaskFailure(
            message,
            "syntax" if problem["syntax"] else "exception",
            ename=problem["ename"],
            traceback=problem["traceback"],
            cell=problem["position"],
        )

    def by_source(self):
        """The names the cells this task runs bind by top-level def / class statements: the
        notebook's functions and classes that values pickle by reference (pickling.py)."""
        if self._by_source is None:
            from .pickling import by_source_names

            t = self.task
            sources = [c.source for c in t.setup] + [d.source for d in t.definitions] + [c.source for c in t.cells]
            self._by_source = by_source_names(sources)
        return self._by_source

    def _measure(self, name):  # engine hook
        from .fingerprint import measure

        return measure(self._loaded[name], self.by_source())

    def _fingerprint(self, name):  # engine hook
        from .fingerprint import fingerprint

        return fingerprint(self._loaded[name], self.by_source())

    def check_inputs(self, step=None):
        """Reports read-only inputs that the cells changed in place: after `step` (the cell just run)
        those cheap to fingerprint, at the end (step None) all the others."""
        t = self.task
        if step is None:
            ran = [s for s in self.steps if s.role == "task" and s.started is not None]
            step = ran[0] if len(ran) == 1 else None  # with one cell, it is the one
            at_end = True
        else:
            at_end = False
        for item in t.inputs:
            state = self._fingerprints.get(item.name)
            if state is None or state["reported"] or (not at_end and not state["each_cell"]):
                continue
            if self._fingerprint(item.name) == state["fp"]:
                continue
            state["reported"] = True
            where = " in cell %d" % step.position if step is not None else " (noticed once the cells were done)"
            message = (
                "task '%s' changed input '%s' (from '%s') in place%s, though the pipeline treats this "
                "task as only reading it: other tasks that read '%s' from '%s' may see the original or "
                "the changed value. Copy it before changing it, or do not declare it read-only."
                % (t.taskName, item.name, item.from_, where, item.name, item.from_)
            )
            self.warnings.append(
                ResultWarning(
                    kind="input-mutated",
                    message=message,
                    variable=item.name,
                    task=t.taskName,
                    cell=step.index if step is not None else None,
                    position=step.position if step is not None else None,
                )
            )
            self._log("warning: %s" % message)

    def save_outputs(self):
        for name in self.task.outputs:
            fact = self._save_variable(name)
            if not fact["ok"]:
                raise self._output_failure(name, fact)
            self.outputs_saved.append(name)
            self.output_details.append(OutputDetail(name=name, type=fact["type"], bytes=fact["bytes"]))

    def _save_variable(self, name):  # engine hook
        from .data import save_variable

        return save_variable(self.namespace, self.store, name, self.by_source())

    def _output_failure(self, name, fact):
        reason = fact["reason"]
        t = self.task
        origin = t.outputOrigins.get(name)
        position = origin + t.cellOffset if origin is not None else None
        if reason == "missing-output":
            message = "output '%s' was declared but the task's cells never assigned it" % name
            return TaskFailure(message, reason, ename="NameError")
        if reason == "io":
            message = "output '%s' could not be written to %s: %s" % (name, fact["path"], fact["message"])
            return TaskFailure(message, reason, ename=fact["ename"])
        where = ", bound in cell %d," % position if position is not None else ""
        message = "output '%s' (type %s) of task '%s'%s cannot be pickled, so it cannot pass to other tasks: %s: %s" % (
            name,
            fact["type"],
            t.taskName,
            where,
            fact["ename"],
            fact["message"],
        )
        return TaskFailure(message, reason, ename=fact["ename"], cell=position)

    # ---- cells ------------------------------------------------------------------------------------

    def run_step(self, step):
        self.execution_count += 1
        step.execution_count = self.execution_count
        self.current = step
        self.capture.start(step)
        if step.role == "parameters":
            self._log("parameters")
            for name, value in self.task.parameters.items():
                self._bind(name, value)
            step.status = "ok"
            step.duration = 0.0
            self.current = self.capture.step = None
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
            flush_quietly(self._real_stdout, self._real_stderr)
            self.current = self.capture.step = None

    def run_tagged_step(self, step):
        """run_step; for a cell tagged raises-exception, an error is logged and the run goes on."""
        if not step.raises:
            return self.run_step(step)
        try:
            self.run_step(step)
        except TaskFailure as failure:
            if failure.reason not in CONTINUABLE:
                raise
            if failure.traceback:
                tb = failure.traceback
                self._real_stderr.write(tb if tb.endswith("\n") else tb + "\n")
            message = failure.message.split("\n", 1)[0]
            self._log("cell %d raised %s (tagged raises-exception): the run goes on" % (step.position, message))

    def _bind(self, name, value):  # engine hook
        self.namespace[name] = value

    def _execute(self, step):  # engine hook
        from . import ipython

        if self.history is not None:
            self.history.store_input(step.execution_count, step.source)
        source = ipython.dedent(step.source)
        timed = False
        magic = ipython.split_cell_magic(source)
        if magic is not None:
            name, args, body = magic
            if name == "time":
                timed, source = True, body
            elif name == "timeit":
                self._register(step, source)
                try:
                    ipython.timeit(args, self.namespace, body)
                except Exception as e:
                    raise self._cell_error(step, e)
                return
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
        self._register(step, source)
        try:
            code, expr = self._compile(step, source)
        except (SyntaxError, ValueError) as e:  # ValueError: a NUL byte, before Python 3.12
            raise self._cell_error(step, e)
        try:
            if timed:
                with ipython.Timer():
                    value = self._run_code(code, expr)
            else:
                value = self._run_code(code, expr)
        except SystemExit as e:
            if step.raises:  # as in a kernel: an error of the cell, which the tag lets the run go past
                raise self._cell_error(step, e)
            raise self._exit(step, e.code)
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            raise self._cell_error(step, e)
        if value is not None:
            from .display import mime_bundle

            if self.history is not None:
                self.history.store_output(step.execution_count, value)
            self.capture.add(
                {
                    "output_type": "execute_result",
                    "execution_count": step.execution_count,
                    "data": mime_bundle(value),
                    "metadata": {},
                }
            )

    def _register(self, step, source):
        from .tracebacks import register_sources

        self._sources[step.filename] = source
        register_sources({step.filename: source})

    def _compile(self, step, source):
        """(code, last_expression_code or None), compiled with the cell's filename."""
        import _ast

        from .display import silenced
        from .ipython import transform_magics

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
        if body and isinstance(body[-1], _ast.Expr) and not silenced(source, body[-1]):
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

    def _exit(self, step, code):
        """What sys.exit(code) in a cell ends the run with: StopTask for 0 or None, else a failure."""
        self._exit_cell = step.position
        if code in (None, 0):
            self._log("cell %d called sys.exit(%s): remaining cells skipped" % (step.position, code))
            return StopTask()
        return TaskFailure(
            "cell %d exited with sys.exit(%r)" % (step.position, code),
            "exit",
            ename="SystemExit",
            cell=step.position,
        )

    def _cell_error(self, step, exc):
        from .outputs import error_output
        from .tracebacks import format_user_traceback, register_sources

        register_sources(self._sources)
        tb = format_user_traceback(exc, self._is_user_file)
        evalue = safe_str(exc)
        ename = type(exc).__name__
        self.capture.add(error_output(ename, evalue, tb.rstrip("\n").split("\n")))
        return cell_failure(ename, evalue, tb, step.position, exc)

    def _is_user_file(self, filename):
        return filename in self._sources

    # ---- whole run --------------------------------------------------------------------------------

    def run(self):
        t = self.task
        self.install_signals()
        from .usage import Meter

        self.meter = Meter(t.usage)
        self.plan()
        status, error, code = "succeeded", None, EXIT_OK
        try:
            try:
                self.prepare()
            except OSError as e:
                raise TaskFailure("cannot prepare the task's folders: %s" % e, "io", ename=type(e).__name__)
            self._log("task %s (job %s, attempt %d)" % (t.taskName, t.jobId, t.attempt))
            try:
                ready = False
                for step in self.steps:
                    if not ready and step.role == "task":
                        self.before_task_cells()
                        ready = True
                    self.run_tagged_step(step)
                    if step.role == "task" and self._fingerprints:
                        self.check_inputs(step)
                if not ready:
                    self.before_task_cells()
            except StopTask:
                pass
            if self._fingerprints:
                self.check_inputs()
            self.save_outputs()
            self.results = self._collect_results(strict=True)
        except TaskFailure as failure:
            status, code, error = "failed", EXIT_TASK_FAILED, self._report_failure(failure)
        except KeyboardInterrupt:
            self.cancel("SIGINT", EXIT_INTERRUPTED)
        except Exception as e:
            # A fault of the runner or its environment, not of the user's code: keep every frame.
            import traceback

            failure = TaskFailure(
                "runner error: %s: %s" % (type(e).__name__, e),
                "runner",
                ename=type(e).__name__,
                traceback=traceback.format_exc(),
            )
            status, code, error = "failed", EXIT_TASK_FAILED, self._report_failure(failure)
        if self._exit_cell is not None:
            self.sigterm.await_watcher()
        if self.sigterm.seen:
            # The cells' own SIGTERM handler ended them (see signals.Sigterm): still a cancellation.
            self.cancel("SIGTERM")
        if not self._finish_lock.acquire(False):
            while True:  # a SIGTERM is writing the cancelled result and will exit the process
                time.sleep(1)
        self.warnings.extend(fileuse.finish(self.file_use, t))
        try:
            status = self._finish(status, error)
        except Exception as e:
            self._real_stderr.write("cellpipe runner: cannot write %s or %s: %s\n" % (t.resultPath, t.notebookPath, e))
            flush_quietly(self._real_stdout, self._real_stderr)
            return EXIT_TASK_FAILED
        if status == "failed" and code == EXIT_OK:
            code = EXIT_TASK_FAILED
        self._log("task %s %s in %d ms" % (t.taskName, status, results.ms(time.perf_counter() - self.started_perf)))
        flush_quietly(self._real_stdout, self._real_stderr)
        return code

    def _report_failure(self, failure):
        """The result.json error; the traceback and a one-line summary go to stderr."""
        stream = self._real_stderr
        if failure.traceback:
            stream.write(failure.traceback if failure.traceback.endswith("\n") else failure.traceback + "\n")
        stream.write(MARKER_PREFIX + "task failed: %s\n" % failure.message)
        from .limits import cap_error, error_bytes

        error = ResultError(
            message=failure.message,
            reason=failure.reason,
            ename=failure.ename,
            traceback=failure.traceback,
            cell=failure.cell,
        )
        return cap_error(error, error_bytes(self.task), failure.evalue)

    def _collect_results(self, strict):
        """The attempt's results. A bad one fails a run that would have succeeded (reason `results`);
        a run that failed or was cancelled anyway keeps its own error, and a warning says what was dropped."""
        from .reporting import ENV_FILE, ResultError, collect, limits_from_env

        t = self.task
        try:
            return collect(os.path.join(t.outputDir, "files"), os.environ.get(ENV_FILE, ""), limits_from_env())
        except ResultError as e:
            if strict:
                raise TaskFailure("the task's results cannot be published: %s" % e, "results")
            self.warnings.append(ResultWarning(kind="results", message="results left out: %s" % e, task=t.taskName))
            return None

    def _finish(self, status, error, retry_seconds=None):
        """Writes the executed notebook and result.json (last) and has the store publish them with the
        artifacts; returns the status: artifacts that cannot be published fail a task that succeeded."""
        t = self.task
        if self.results is None and status != "succeeded":
            self.results = self._collect_results(strict=False)
        files_dir = os.path.join(t.outputDir, "files")
        artifacts = results.list_artifacts(files_dir)
        problem = self._publish_artifacts(files_dir, artifacts, retry_seconds)
        if problem is not None:
            self._real_stderr.write(MARKER_PREFIX + problem + "\n")
            if status == "succeeded":
                status, error = "failed", ResultError(message=problem, reason="io")
        results.write_json(t.notebookPath, results.executed_notebook(t, self.steps, status))
        self.store.publish("notebook", t.notebookPath, retry_seconds)
        results.write_result(
            t,
            status,
            self.started_wall,
            time.perf_counter() - self.started_perf,
            self.ENGINE,
            cells=results.cell_timings(self.steps),
            outputs=self.outputs_saved,
            output_details=self.output_details,
            artifacts=artifacts,
            notes=self.notes,
            warnings=self.warnings,
            error=error,
            results=self.results,
            usage=self.meter.finish() if self.meter is not None else None,
        )
        self.store.publish("result", t.resultPath, retry_seconds)
        return status

    def _publish_artifacts(self, files_dir, artifacts, retry_seconds):
        """None, or why an artifact could not be published."""
        for rel in artifacts:
            try:
                self.store.publish("files/" + rel, os.path.join(files_dir, *rel.split("/")), retry_seconds)
            except OSError as e:
                return "artifact '%s' could not be published: %s" % (rel, safe_str(e))
        return None
