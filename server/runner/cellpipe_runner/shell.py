"""The ipython engine: the cells run in this process, in IPython's InteractiveShell set up as a Jupyter
kernel's shell (nbshell.py), where IPython imports. Magics, ``!shell`` lines, display(), display ids,
clear_output(), get_ipython(), ``_`` / ``Out`` and history are IPython's own, and outputs reach the
executed notebook as nbclient records a kernel's messages; there is no kernel process to start.

Everything else is the stdlib engine's (engine.py): the plan, inputs, definitions, read-only checks,
outputs, cancelling, result.json and exit codes. Script tasks run as Python, as in the stdlib engine
(``python3 script.py`` knows no IPython syntax), with IPython's display machinery available.
"""

import sys

from .engine import Runner
from .failures import TaskFailure, cell_failure, safe_str


def ipython_problem():
    """None when IPython can run the ipython engine here, else why not (it is imported if present)."""
    from importlib.util import find_spec

    if find_spec("IPython") is None:
        return "IPython is not installed in %s" % sys.executable
    try:
        from .nbshell import version_problem
    except Exception as e:  # a broken installation: whatever importing it raises
        return "IPython cannot be imported: %s: %s" % (type(e).__name__, e)
    return version_problem()


class ShellRunner(Runner):
    ENGINE = "ipython"

    def __init__(self, *args, **kwargs):
        Runner.__init__(self, *args, **kwargs)
        self.shell = None

    def prepare(self):
        problem = ipython_problem()
        if problem:
            self.prepare_folders_and_env()
            raise TaskFailure("the ipython engine needs IPython 8 or newer: %s" % problem, "kernel")
        from .nbshell import notebook_shell

        self.prepare_main()
        self.shell = notebook_shell(sys.modules["__main__"], self._publish)
        if self.task.kind == "script":
            self.install_emulation()

    def _publish(self, kind, content):
        """An output message of the shell (or of the cells, through get_ipython().kernel.session)."""
        step = self.current
        out = self.capture.message(kind, content, step.execution_count if step is not None else None)
        if out is not None and kind == "display_data":
            self._real_stdout.write(str(out["data"].get("text/plain", "")) + "\n")

    def _execute(self, step):  # engine hook
        if self.task.kind == "script":
            return Runner._execute(self, step)
        shell = self.shell
        # `Cell In[N]` in tracebacks, Out[N] and _N then name the notebook position N, as in the kernel engine.
        shell.execution_count = step.position
        shell.last_traceback = None
        result = shell.run_cell(step.source, store_history=True)
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            return
        if isinstance(error, SystemExit) and not step.raises:
            raise self._exit(step, error.code)
        if isinstance(error, KeyboardInterrupt):
            raise KeyboardInterrupt()
        from .tracebacks import strip_ansi

        ename = type(error).__name__
        evalue = safe_str(error)
        if shell.last_traceback is not None:
            tb = strip_ansi("\n".join(shell.last_traceback)).strip("\n") + "\n"
        else:  # an exception group: IPython printed Python's own traceback to stderr
            import traceback

            tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        raise cell_failure(ename, evalue, tb, step.position, error)
