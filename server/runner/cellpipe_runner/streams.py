"""stdout and stderr of user code: live in the log, and captured per cell for the executed notebook."""

MARKER_PREFIX = "[cellpipe] "


class Tee(object):
    """sys.stdout / sys.stderr for user code: writes through to the process stream (line-buffered,
    so the executor sees lines live) and records the text for the current cell's notebook output."""

    # No __slots__: IPython 9 wraps sys.stdout.write for the length of a cell (InteractiveShell._tee).

    def __init__(self, real, name, capture):
        self._real = real
        self._name = name
        self._capture = capture

    def write(self, text):
        # Captured first: whatever the log has shown is in the notebook a cancellation writes.
        if isinstance(text, str):
            self._capture.stream(self._name, text)
        return self._real.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self._real.flush()

    def __getattr__(self, name):  # fileno, isatty, encoding, buffer, errors, ...
        return getattr(self._real, name)


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
