"""The job's working folder (task.json ``workDir``): a notebook's cells run in the notebook's folder,
so relative paths read the files beside it and what one cell writes there the next one reads. Every
task of a job works in the same folder, so a task sees the files the tasks before it wrote."""

import os

from .failures import TaskFailure


def enter(path, create=False):
    """Makes ``path`` the current directory of the task (and of the kernel it may start); ``create``:
    a scratch folder of the task's own (a pod's), made here."""
    if path is None:
        return
    try:
        if create:
            os.makedirs(path, exist_ok=True)
        os.chdir(path)
    except OSError as e:
        raise TaskFailure(
            "cannot work in the job's working folder %s: %s" % (path, e.strerror or e),
            "io",
            ename=type(e).__name__,
        ) from None
    # Shell escapes (`!pwd`) and subprocesses that read $PWD agree with os.getcwd().
    os.environ["PWD"] = path
