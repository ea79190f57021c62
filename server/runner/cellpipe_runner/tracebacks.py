"""Cell sources for linecache (tracebacks, warnings, inspect.getsource) and tracebacks that show the
user's frames only."""

import os
import sys

# Frames of the runner's own modules (in the zipapp, a source tree or compiled into the zipapp as
# `cellpipe_runner/<module>.py`) are left out of the tracebacks users see.
_PACKAGE = os.path.basename(os.path.dirname(__file__))


def strip_ansi(text):
    """Text without terminal colour codes (IPython's tracebacks have them)."""
    import re

    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def linecache_entry(filename, source):
    lines = source.splitlines(True)
    # Like a file's: without the final newline, traceback's carets shift one column right.
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return (len(source), None, lines, filename)


def register_sources(sources):
    """Puts {filename: source} into linecache, where tracebacks and inspect.getsource() read it."""
    linecache = sys.modules.get("linecache")
    if linecache is None:
        import linecache
    for filename, source in sources.items():
        linecache.cache[filename] = linecache_entry(filename, source)


def _runner_frame(filename):
    return filename[:1] != "<" and os.path.basename(os.path.dirname(filename)) == _PACKAGE


def format_user_traceback(exc, is_user_file):
    """The traceback text without the runner's frames (and the event loop's for top-level await)."""
    import traceback

    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    seen = set()
    pending = [(te, True)]
    while pending:
        item, top = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        frames = [f for f in item.stack if not _runner_frame(f.filename)]
        if top:
            # Frames before the first cell frame belong to the machinery that ran the cell.
            for i, f in enumerate(frames):
                if is_user_file(f.filename):
                    frames = frames[i:]
                    break
            else:
                frames = []
        item.stack = traceback.StackSummary.from_list(frames)
        for nested in (item.__cause__, item.__context__):
            if nested is not None:
                pending.append((nested, False))
        for nested in getattr(item, "exceptions", None) or ():
            pending.append((nested, False))
    return "".join(te.format())
