"""Whole-file tasks (``kind`` notebook or script) whose task.json has no ``cells``: the runner reads
the file itself. Notebooks in nbformat 4, and 3 (converted the way nbformat's v3 -> v4 conversion
does: worksheets flattened, a code cell's ``input`` is its source), are read; others are refused
with a message naming their nbformat."""

from .contract import BadTask, Cell


def read_source_file(task):
    """Sets task.cells (with the `raises-exception` tag where a cell has it) and task.parametersCell
    (from the cell tagged `parameters`, when unset)."""
    path = task.sourcePath
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadTask("sourcePath", "cannot read %s: %s" % (path, e))
    if task.kind == "script":
        task.cells = [Cell(index=0, source=text)]
        return
    import json

    try:
        nb = json.loads(text)
        if not isinstance(nb, dict):
            raise TypeError("the file is not a JSON object")
    except (ValueError, TypeError) as e:
        raise BadTask("sourcePath", "%s is not a notebook: %s" % (path, e))
    version = nb.get("nbformat")
    try:
        if version == 3:
            raw_cells, source_key = _v3_cells(nb), "input"
        elif version == 4 or (version is None and "cells" in nb):
            raw_cells, source_key = nb["cells"], "source"
        elif version is None:
            raise BadTask("sourcePath", "%s is not a notebook: it has neither nbformat nor cells" % path)
        else:
            raise BadTask("sourcePath", "%s is nbformat %s: only nbformat 4 and 3 notebooks can run" % (path, version))
        if not isinstance(raw_cells, list):
            raise TypeError("cells is not a list")
    except (KeyError, TypeError) as e:
        where = "nbformat 3 notebook" if version == 3 else "notebook"
        raise BadTask("sourcePath", "%s is not a valid %s: %s" % (path, where, e))
    cells = []
    for i, cell in enumerate(raw_cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get(source_key, "")
        src = "".join(src) if isinstance(src, list) else str(src)
        tags = (cell.get("metadata") or {}).get("tags") or []
        tags = tags if isinstance(tags, list) else []
        cells.append(Cell(index=i, source=src, tags=[t for t in tags if t == "raises-exception"]))
        if task.parametersCell is None and "parameters" in tags:
            task.parametersCell = i  # papermill's convention
    task.cells = cells


def _v3_cells(nb):
    """nbformat 3 keeps cells in worksheets; v4 has the worksheets' cells in order, one per cell."""
    worksheets = nb["worksheets"]
    if not isinstance(worksheets, list):
        raise TypeError("worksheets is not a list")
    cells = []
    for sheet in worksheets:
        if not isinstance(sheet, dict) or not isinstance(sheet.get("cells", []), list):
            raise TypeError("a worksheet's cells is not a list")
        cells.extend(sheet.get("cells", []))
    return cells
