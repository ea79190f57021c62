"""stdout and stderr of user code: live in the log, and captured per cell for the executed notebook."""

# A cell's captured text in the executed notebook stops growing past this; the live log keeps all.
NOTEBOOK_STREAM_LIMIT = 1 << 20
MARKER_PREFIX = "[cellpipe] "


class Tee(object):
    """sys.stdout / sys.stderr for user code: writes through to the process stream (line-buffered,
    so the executor sees lines live) and records the text for the current cell's notebook output."""

    __slots__ = ("_real", "_name", "_capture")

    def __init__(self, real, name, capture):
        self._real = real
        self._name = name
        self._capture = capture

    def write(self, text):
        # Captured first: whatever the log has shown is in the notebook a cancellation writes.
        capture = self._capture
        if capture.step is not None and capture.size < NOTEBOOK_STREAM_LIMIT and isinstance(text, str):
            capture.add(self._name, text)
        return self._real.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self._real.flush()

    def __getattr__(self, name):  # fileno, isatty, encoding, buffer, errors, ...
        return getattr(self._real, name)


class Capture(object):
    """The running cell's stream outputs, up to NOTEBOOK_STREAM_LIMIT characters per cell."""

    __slots__ = ("step", "size")

    def __init__(self):
        self.step = None
        self.size = 0

    def start(self, step):
        self.step = step
        self.size = 0

    def add(self, name, text):
        step = self.step
        if step is None or not text or self.size >= NOTEBOOK_STREAM_LIMIT:
            return
        if self.size + len(text) > NOTEBOOK_STREAM_LIMIT:
            text = text[: NOTEBOOK_STREAM_LIMIT - self.size]
            text += "\n[cellpipe: output truncated in the notebook; the task log has all of it]\n"
            self.size = NOTEBOOK_STREAM_LIMIT
        else:
            self.size += len(text)
        outs = step.outputs
        if outs and outs[-1].get("output_type") == "stream" and outs[-1]["name"] == name:
            outs[-1]["_chunks"].append(text)
        else:
            outs.append({"output_type": "stream", "name": name, "_chunks": [text]})


def line_buffered(stream):
    # backslashreplace: like Jupyter, printing text the log's encoding cannot hold never fails a task.
    try:
        stream.reconfigure(line_buffering=True, errors="backslashreplace")
    except Exception:
        pass
    return stream


def flush_quietly(*streams):
    for stream in streams:
        try:
            stream.flush()
        except Exception:
            pass
