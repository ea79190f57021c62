"""How a run ends: exit codes, and the exceptions that carry a failure to result.json."""

EXIT_OK = 0
EXIT_TASK_FAILED = 1
EXIT_BAD_TASK = 2
EXIT_INTERRUPTED = 130
EXIT_CANCELLED = 143


class TaskFailure(Exception):
    """A task error that ends the run: reported in result.json, exit code 1."""

    def __init__(self, message, reason, ename=None, traceback=None, cell=None, evalue=None):
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.ename = ename
        self.traceback = traceback
        self.cell = cell
        # The exception's own message, which the traceback repeats (bounded first when it is huge).
        self.evalue = evalue


# Failure reasons by exception class name (a kernel reports names, not classes).
_REASONS = {"SyntaxError": "syntax", "IndentationError": "syntax", "TabError": "syntax", "MemoryError": "oom"}


def cell_failure(ename, evalue, traceback, cell, exc=None):
    """The failure of a cell that raised `ename: evalue` (`exc`, when it is at hand, for its class)."""
    if exc is not None:
        reason = "syntax" if isinstance(exc, SyntaxError) else "oom" if isinstance(exc, MemoryError) else "exception"
    else:
        reason = _REASONS.get(ename, "exception")
    message = "%s: %s" % (ename, evalue) if evalue else ename
    return TaskFailure(message, reason, ename=ename, traceback=traceback, cell=cell, evalue=evalue)


class StopTask(Exception):
    """sys.exit(0) in a cell: the remaining cells are skipped and the task succeeds."""


class KernelDied(TaskFailure):
    def __init__(self, cell=None):
        where = " while running cell %d" % cell if cell is not None else ""
        TaskFailure.__init__(self, "the kernel died%s" % where, "kernel", cell=cell)


def safe_str(e):
    try:
        return str(e)
    except Exception:
        return "<unprintable %s>" % type(e).__name__
