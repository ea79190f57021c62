"""Imports, functions, classes and module state that cross task boundaries by source.

The compiler lists, in task.json ``definitions``, the statements bound in another task that this
task needs (``import numpy as np``, ``def f(...)``, ``class Model``), and the statements of earlier
tasks that set module state (kind ``state``: ``pd.set_option(...)``, ``sys.path.append(p)``). Each
runs in the task namespace compiled as ``<cell N>`` with its lines at their place in that cell, so
tracebacks and inspect.getsource() show the original cell and line; linecache gets each cell's
statements at their lines (the rest of the cell stays blank).
"""

from .failures import safe_str


def cell_filename(cell, cell_offset):
    return "<cell %d>" % (cell + cell_offset)


def sources_by_cell(definitions, cell_offset):
    """{"<cell N>": text} holding every definition of cell N at its lines."""
    cells = {}
    for d in definitions:
        lines = cells.setdefault(cell_filename(d.cell, cell_offset), [])
        statement = d.source.split("\n")
        end = d.line - 1 + len(statement)
        if len(lines) < end:
            lines.extend([""] * (end - len(lines)))
        lines[d.line - 1 : end] = statement
    return {name: "\n".join(lines) + "\n" for name, lines in cells.items()}


def in_runs(definitions):
    """The definitions in order, in runs that each start at a ``state`` statement (or the first):
    inputs that wait for a class can be loaded between runs, before a state statement reads them."""
    runs = []
    for d in definitions:
        if not runs or d.kind == "state":
            runs.append([])
        runs[-1].append(d)
    return runs


def is_star_import(d):
    """``from m import *``: an import whose names the compiler cannot see (it lists none)."""
    return d.kind == "import" and not d.names


def _run_star_import(code, namespace):
    """Binds the names the star import gives that the task does not have yet: its inputs, setup
    cells and earlier definitions are the versions the compiler chose, which the module's names
    must not replace."""
    scratch = {"__name__": namespace.get("__name__", "__main__"), "__builtins__": namespace.get("__builtins__")}
    if scratch["__builtins__"] is None:
        del scratch["__builtins__"]
    exec(code, scratch)
    for name, value in scratch.items():
        if name not in namespace and name not in ("__name__", "__builtins__"):
            namespace[name] = value


def run_definitions(namespace, definitions, cell_offset, is_user_file):
    """Runs each definition in order. None when all ran, else {"index", "cell", "position", "statement",
    "kind", "ename", "message", "traceback", "syntax"} for the first that failed."""
    from .tracebacks import format_user_traceback, register_sources

    register_sources(sources_by_cell(definitions, cell_offset))
    for index, d in enumerate(definitions):
        filename = cell_filename(d.cell, cell_offset)
        try:
            # Blank lines in front put the statement at its line in the cell.
            code = compile("\n" * (d.line - 1) + d.source, filename, "exec", dont_inherit=True)
            if is_star_import(d):
                _run_star_import(code, namespace)
            else:
                exec(code, namespace)
        except Exception as e:
            first = d.source.strip().split("\n", 1)[0]
            return {
                "index": index,
                "cell": d.cell,
                "position": d.cell + cell_offset,
                "statement": first if len(first) <= 80 else first[:77] + "...",
                "kind": d.kind,
                "ename": type(e).__name__,
                "message": safe_str(e),
                "traceback": format_user_traceback(e, is_user_file),
                "syntax": isinstance(e, SyntaxError),
            }
    return None
