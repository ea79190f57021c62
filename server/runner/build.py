#!/usr/bin/env python3
"""Builds the runner's zipapp: one file that executors start as ``python3 cellpipe_runner.pyz task.json``.

    python3 server/runner/build.py OUT.pyz [--no-bytecode]

The archive holds the ``cellpipe_runner`` package's sources (with the code it vendors under
``_vendor/``, and its licence) and the ``cellpipe`` module task code imports (``cellpipe.report``)
and, next to each, its bytecode for the
Python that builds it (unchecked hash-based .pyc, so the archive's timestamps do not matter): an image
with that Python skips compiling the runner at every start, any other Python >= 3.9 imports the
sources. Compressed, so it fits a Kubernetes ConfigMap with room to spare. Written atomically.
"""

import os
import py_compile
import shutil
import sys
import tempfile
import zipapp

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "cellpipe_runner"
API_MODULE = "cellpipe.py"


def _add(source, target, dfile, bytecode):
    """Copies a module into the staging tree; with its unchecked hash-based .pyc next to it."""
    shutil.copyfile(source, target)
    if bytecode:
        # zipimport looks for <module>.pyc next to <module>.py; dfile names the module in
        # tracebacks of the runner's own faults.
        py_compile.compile(
            source,
            cfile=target[:-3] + ".pyc",
            dfile=dfile,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )


def build(out, bytecode=True):
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cellpipe-runner-build-") as staging:
        for folder, dirs, files in os.walk(os.path.join(HERE, PACKAGE)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            rel = os.path.relpath(folder, HERE)
            os.mkdir(os.path.join(staging, rel))
            for name in sorted(files):
                source, target = os.path.join(folder, name), os.path.join(staging, rel, name)
                if name.endswith(".py"):
                    _add(source, target, "%s/%s" % (rel.replace(os.sep, "/"), name), bytecode)
                elif name == "LICENSE":  # vendored code ships with its licence (_vendor/*/LICENSE)
                    shutil.copyfile(source, target)
        # `import cellpipe` in task code: the API the runner provides (cellpipe.report).
        _add(os.path.join(HERE, API_MODULE), os.path.join(staging, API_MODULE), API_MODULE, bytecode)
        shutil.copyfile(os.path.join(HERE, PACKAGE, "__main__.py"), os.path.join(staging, "__main__.py"))
        tmp = "%s.%d.tmp" % (out, os.getpid())
        zipapp.create_archive(staging, tmp, interpreter="/usr/bin/env python3", compressed=True)
        os.replace(tmp, out)
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1 or any(a not in ("--no-bytecode",) for a in sys.argv[1:] if a.startswith("--")):
        sys.stderr.write("usage: python3 build.py OUT.pyz [--no-bytecode]\n")
        sys.exit(2)
    build(args[0], bytecode="--no-bytecode" not in sys.argv[1:])
