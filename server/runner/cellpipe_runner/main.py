"""The command line: ``python3 cellpipe_runner.pyz <task.json>``.

Exit codes: 0 succeeded, 1 task failed (result.json says why), 2 bad task.json (stderr names the
field), 143 cancelled by SIGTERM, 130 interrupted by SIGINT.
"""

import os
import sys
import time


def home():
    """The sys.path entry the runner's package comes from: the zipapp, or the folder holding it."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    return os.path.dirname(package_dir)


def main(argv=None):
    from .contract import BadTask, load_task
    from .failures import EXIT_BAD_TASK

    argv = sys.argv if argv is None else argv
    started_wall, started_perf = time.time(), time.perf_counter()
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write("usage: python3 cellpipe_runner.pyz <task.json>\n")
        return EXIT_BAD_TASK
    try:
        task = load_task(argv[1])
    except BadTask as e:
        from .results import write_bad_task_result

        sys.stderr.write("cellpipe runner: bad task.json %s: %s\n" % (argv[1], e))
        write_bad_task_result(argv[1], str(e), started_wall)
        return EXIT_BAD_TASK
    # The module that started the run (the zipapp's __main__) stays alive once the user's cells own
    # sys.modules["__main__"].
    launcher = sys.modules.get("__main__")  # noqa: F841
    engine = task.engine
    if engine == "auto":
        # A notebook's cells run in IPython's shell, so its results are those of a Jupyter kernel
        # (magics, get_ipython(), display ids, clear_output). In-process, not a kernel: the run-time
        # checks (files, random state, read-only inputs) stay on and no kernel start is paid.
        from .shell import ipython_problem

        engine = "stdlib" if ipython_problem() else "ipython"
    if engine == "kernel":
        from .kernel import KernelRunner

        return KernelRunner(task, started_wall, started_perf, home()).run()
    if engine == "ipython":
        from .shell import ShellRunner

        return ShellRunner(task, started_wall, started_perf, home()).run()
    from .engine import Runner

    return Runner(task, started_wall, started_perf, home()).run()
