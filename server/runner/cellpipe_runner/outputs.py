"""A cell's outputs in the executed notebook, kept the way nbclient keeps what a kernel sends (so a task's
executed notebook matches a top-to-bottom run of the same cells):

- stream text is appended to the running cell (consecutive text of one stream is one output), up to
  NOTEBOOK_STREAM_LIMIT characters per cell;
- display_data and execute_result are appended; one carrying a display_id is remembered, and a later
  ``update_display_data`` for that id (or a new display with it) replaces the data and metadata of every
  output shown with it so far, in any cell, without adding one;
- ``clear_output()`` empties the running cell's outputs (forgetting its displays), ``clear_output(wait=True)``
  does so right before the cell's next output, whatever it is.
"""

# A cell's captured text in the executed notebook stops growing past this; the live log keeps all.
NOTEBOOK_STREAM_LIMIT = 1 << 20
TRUNCATED = "\n[cellpipe: output truncated in the notebook; the task log has all of it]\n"


class CellOutputs(object):
    """The running cell (``step``, whose ``outputs`` list is filled) and the display ids shown so far."""

    __slots__ = ("step", "size", "_clear_pending", "_displays")

    def __init__(self):
        self.step = None
        self.size = 0
        self._clear_pending = False
        # display_id -> [(step, output)]: where each id is shown, so an update reaches every cell.
        self._displays = {}

    def start(self, step):
        self.step = step
        self.size = 0
        self._clear_pending = False

    def stream(self, name, text):
        step = self.step
        if step is None or not text:
            return
        self._before_output()
        if self.size >= NOTEBOOK_STREAM_LIMIT:
            return
        if self.size + len(text) > NOTEBOOK_STREAM_LIMIT:
            text = text[: NOTEBOOK_STREAM_LIMIT - self.size] + TRUNCATED
            self.size = NOTEBOOK_STREAM_LIMIT
        else:
            self.size += len(text)
        outs = step.outputs
        if outs and outs[-1].get("output_type") == "stream" and outs[-1]["name"] == name:
            outs[-1]["_chunks"].append(text)
        else:
            outs.append({"output_type": "stream", "name": name, "_chunks": [text]})

    def add(self, output, display_id=None):
        """Appends a display_data, execute_result or error output to the running cell."""
        if display_id:
            self.update(display_id, output.get("data", {}), output.get("metadata", {}))
        step = self.step
        if step is None:
            return
        self._before_output()
        step.outputs.append(output)
        if display_id:
            self._displays.setdefault(display_id, []).append((step, output))

    def update(self, display_id, data, metadata):
        """update_display_data: every output shown with this id takes the new data; nothing is added."""
        for _step, output in self._displays.get(display_id, ()):
            output["data"] = data
            output["metadata"] = metadata

    def message(self, kind, content, execution_count=None):
        """A kernel's IOPub message (its type and content) applied as nbclient applies it; returns the
        display_data or execute_result output it added, if any. `execution_count` replaces the
        message's in an execute_result (the executed notebook numbers the cells that ran)."""
        transient = content.get("transient") or {}
        display_id = transient.get("display_id") if isinstance(transient, dict) else None
        if kind == "stream":
            self.stream(content.get("name") or "stdout", content.get("text") or "")
        elif kind in ("display_data", "execute_result"):
            out = {"output_type": kind, "data": content.get("data") or {}, "metadata": content.get("metadata") or {}}
            if kind == "execute_result":
                out["execution_count"] = content.get("execution_count") if execution_count is None else execution_count
            self.add(out, display_id)
            return out
        elif kind == "update_display_data":
            if display_id:
                self.update(display_id, content.get("data") or {}, content.get("metadata") or {})
        elif kind == "error":
            self.add(
                error_output(content.get("ename") or "", content.get("evalue") or "", content.get("traceback") or [])
            )
        elif kind == "clear_output":
            self.clear(bool(content.get("wait")))
        return None

    def clear(self, wait=False):
        if wait:
            self._clear_pending = True
        else:
            self._clear_now()

    def _before_output(self):
        if self._clear_pending:
            self._clear_pending = False
            self._clear_now()

    def _clear_now(self):
        step = self.step
        if step is None:
            return
        del step.outputs[:]
        self.size = 0
        for id_, shown in list(self._displays.items()):
            kept = [(s, o) for s, o in shown if s is not step]
            if kept:
                self._displays[id_] = kept
            else:
                del self._displays[id_]


def error_output(ename, evalue, traceback):
    """An error output (traceback: its lines), its text bounded as a cell's stream text is: a huge
    exception message must not make a huge notebook."""
    from .limits import ENAME_BYTES, cap_text, cap_traceback

    what = "the executed notebook's limit"
    text = cap_traceback("\n".join(traceback), evalue, NOTEBOOK_STREAM_LIMIT, what)
    return {
        "output_type": "error",
        "ename": cap_text(ename, ENAME_BYTES, "start", what),
        "evalue": cap_text(evalue, NOTEBOOK_STREAM_LIMIT, "start", what),
        "traceback": text.split("\n"),
    }
