"""What the runner reports stays within the server's limits (task.json ``limits``): the error message and
the traceback are cut to ``errorBytes`` each, with a note, keeping the exception's class; each warning's
and note's message likewise; and result.json as a whole fits ``resultBytes``, the largest the server
reads (past it the task would fail as ``result-too-large`` and its own error would be lost).

The server cuts the same way again when it stores them (server/src/orchestrator/result.ts), so what a
user sees does not depend on which side cut.
"""

# The server's defaults (server/src/limits.ts), for a task.json that does not say.
DEFAULT_ERROR_BYTES = 64 * 1024
DEFAULT_RESULT_BYTES = 8 * 1024 * 1024
ENAME_BYTES = 256


def error_bytes(task):
    return task.limits.errorBytes if task.limits is not None else DEFAULT_ERROR_BYTES


def result_bytes(task):
    return task.limits.resultBytes if task.limits is not None else DEFAULT_RESULT_BYTES


def _size(value):
    return len(value.encode("utf-8", "replace"))


def cap_text(text, max_bytes, keep="start", what="limits.errorBytes"):
    """`text` cut to at most `max_bytes` of UTF-8, a note saying so included: the start kept for a
    message, the end for a traceback (where the exception and the innermost frames are)."""
    if text is None or len(text) <= max_bytes // 4:
        return text
    data = text.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return text
    note = "[cellpipe: cut to %s of %s (%s)]" % (format_bytes(max_bytes), format_bytes(len(data)), what)
    # The note and the ellipsis fit in max_bytes too, so the server's own cut leaves the text alone.
    room = max(0, max_bytes - _size(note) - _size("\u2026 "))
    if keep == "start":
        return data[:room].decode("utf-8", "ignore") + "\u2026 " + note
    return note + "\n\u2026" + data[len(data) - room :].decode("utf-8", "ignore")


def cap_traceback(traceback, evalue, max_bytes, what="limits.errorBytes"):
    """A traceback cut to `max_bytes`. A huge exception message is what makes most tracebacks huge: it
    is cut in place first (its start kept), so the frames stay; only then is the end kept."""
    if traceback is None or len(traceback) <= max_bytes // 4:
        return traceback
    if evalue and _size(evalue) > max_bytes // 2 and evalue in traceback:
        traceback = traceback.replace(evalue, cap_text(evalue, max_bytes // 2, "start", what))
    return cap_text(traceback, max_bytes, "end", what)


def format_bytes(n):
    """As the server writes sizes: 64 KB, 19.1 MB."""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return ("%.1f" % (n / size)).replace(".0", "") + " " + unit
    return "%d B" % n


def cap_error(error, max_bytes, evalue=None):
    """A contract.ResultError with its message, traceback and ename bounded (in place; returned)."""
    if error is None:
        return None
    error.message = cap_text(error.message, max_bytes, "start")
    if error.traceback is not None:
        error.traceback = cap_traceback(error.traceback, evalue, max_bytes)
    if error.ename is not None:
        error.ename = cap_text(error.ename, ENAME_BYTES, "start")
    return error


# Lists of result.json shortened, in this order, when the document is still too big: what they hold
# is also elsewhere (files on disk, the executed notebook, the log).
_SHORTENED = ("artifacts", "notes", "cells", "outputDetails", "warnings", "outputs")


def fit_result(doc, max_bytes, dumps):
    """The result.json document (a dict) as text of at most `max_bytes`, serialized with `dumps`: long
    lists lose their tail (a note says how many items went), then the error's texts are cut, until it
    fits. Changes `doc`."""
    text = dumps(doc)
    if _size(text) <= max_bytes:
        return text
    left_out = {}

    def with_note():
        note = {"cell": None, "message": _left_out_message(left_out, max_bytes)}
        return dumps(dict(doc, notes=list(doc.get("notes", [])) + [note]))

    for key in _SHORTENED:
        items = doc.get(key)
        while isinstance(items, list) and items:
            keep = len(items) // 2
            left_out[key] = left_out.get(key, 0) + len(items) - keep
            del items[keep:]
            text = with_note()
            if _size(text) <= max_bytes:
                return text
    # What is left is the error (a task's errorBytes near its resultBytes): its texts make room.
    error = doc.get("error")
    if isinstance(error, dict):
        for key, keep in (("message", "start"), ("traceback", "end")):
            if isinstance(error.get(key), str):
                error[key] = cap_text(error[key], max_bytes // 4, keep, "limits.resultBytes")
    return with_note()


def _left_out_message(left_out, max_bytes):
    what = ", ".join("%d of %s" % (n, key) for key, n in sorted(left_out.items())) or "nothing"
    return "result.json: %s left out to stay under %s (limits.resultBytes)" % (what, format_bytes(max_bytes))
