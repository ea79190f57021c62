"""Cellpipe task runner: runs one pipeline task in a fresh Python process.

    python3 cellpipe_runner.pyz /path/to/task.json

The package is shipped as one zipapp (built by ``server/runner/build.py``) so it can be copied into a
ConfigMap and run in any image that has python3 (3.9 or newer, standard library only, plus the
pure-Python code it carries in ``_vendor``: cloudpickle). Modules import
lazily: every task pays for what it imports at start.

Modules, one concern each:

- ``contract``     task.json / result.json, the dataclass mirror of schema/src/runner-contract.ts
- ``sources``      whole-notebook and script tasks: the file's cells (nbformat 3 and 4)
- ``data``         where variables come from and go to (the store seam) and how they are (un)pickled
- ``pickling``     the notebook's by-source functions and classes by reference, its other ones by value
- ``fingerprint``  bounded-cost hashes of inputs, to notice in-place changes
- ``definitions``  imports, functions, classes and module state run from their source, at their cell's lines
- ``ipython``      IPython syntax without IPython: dedent, magics, %time / %timeit
- ``display``      rich output (MIME bundles) for execute_result / display_data
- ``pretty``       text/plain as IPython's pretty printer makes it
- ``streams``      stdout / stderr captured per cell
- ``signals``      SIGTERM and the wakeup-fd watcher
- ``results``      result.json and the executed notebook
- ``engine``       the stdlib engine: the run itself
- ``kernel``       the optional IPython-kernel engine (and ``kernel_side``: what runs inside the kernel)
- ``main``         the command line
"""

VERSION = "1"
