"""IPython's InteractiveShell set up as a Jupyter kernel's shell, without the kernel: what the ipython
engine (shell.py) runs cells in. Imported only by that engine (it imports IPython).

Where a kernel's shell (ipykernel's ZMQInteractiveShell) differs from a plain InteractiveShell in what
cells can observe, this one does what the kernel's does, so a task's outputs are those of a notebook run
by nbclient:

- display_data / update_display_data / clear_output and execute_result become messages (``publish``,
  the engine's callback) instead of text on stdout; a traceback becomes an ``error`` message;
- history lives in memory (nbclient starts kernels with ``HistoryManager.hist_file=:memory:``);
- the environment ipykernel sets for the cells (TERM, CLICOLOR, FORCE_COLOR, PAGER, MPLBACKEND);
- ``get_ipython().kernel`` exists, with the ``session.send(iopub_socket, ...)`` that code uses to
  publish messages itself, and ``config`` has the ``IPKernelApp`` section: libraries tell a notebook
  from a terminal that way (pandas' default ``display.max_columns``, tqdm.autonotebook);
- pager text (``obj?``, ``%pdoc``) as a payload, which a notebook shows beside the cell and nbclient
  keeps no output of, not as text on stdout;
- no virtualenv detection (it would change sys.path), no GUI event loops.
"""

import os
import sys

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config


def _json_ready(value):
    """Bytes in a MIME bundle as base64 text, as jupyter_client serializes them."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    return value


class NotebookDisplayPublisher(DisplayPublisher):
    """display() and clear_output() as messages to the engine (ZMQDisplayPublisher's, without a socket)."""

    def publish(self, data, metadata=None, *args, transient=None, update=False, **kwargs):
        self._validate_data(data, metadata)
        content = {"data": _json_ready(data), "metadata": _json_ready(metadata or {}), "transient": transient or {}}
        self.shell.publish("update_display_data" if update else "display_data", content)

    def clear_output(self, wait=False):
        self.shell.publish("clear_output", {"wait": bool(wait)})


class NotebookDisplayHook(DisplayHook):
    """The value of a cell's last expression as an execute_result message (ZMQShellDisplayHook's way)."""

    _bundle = None

    def start_displayhook(self):
        self._is_active = True
        self._bundle = None

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        self._bundle = (format_dict, md_dict or {})

    def finish_displayhook(self):
        bundle, self._bundle = self._bundle, None
        self._is_active = False
        if bundle and bundle[0]:
            content = {"data": _json_ready(bundle[0]), "metadata": _json_ready(bundle[1])}
            content["execution_count"] = self.prompt_count
            self.shell.publish("execute_result", content)


class _Session(object):
    """What cells use of jupyter_client's Session to publish messages themselves: msg() and send();
    a message sent to the kernel's iopub_socket reaches the notebook, any other is dropped."""

    def __init__(self, shell, iopub):
        self._shell = shell
        self._iopub = iopub

    def msg(self, msg_type, content=None, parent=None, header=None, metadata=None, **kwargs):
        header = dict(header or {}, msg_type=msg_type)
        return {
            "header": header,
            "msg_type": msg_type,
            "parent_header": parent or {},
            "content": content or {},
            "metadata": metadata or {},
        }

    def send(self, stream, msg_or_type, content=None, parent=None, ident=None, buffers=None, track=False, **kwargs):
        if isinstance(msg_or_type, dict):
            msg = msg_or_type
        else:
            msg = self.msg(msg_or_type, content, parent, kwargs.get("header"), kwargs.get("metadata"))
        if stream is self._iopub:
            self._shell.publish(msg["header"]["msg_type"], _json_ready(msg.get("content") or {}))
        return msg


class _Kernel(object):
    """get_ipython().kernel: its IOPub socket and session, nothing else (there is no kernel)."""

    def __init__(self, shell):
        self.iopub_socket = object()
        self.session = _Session(shell, self.iopub_socket)


class NotebookShell(InteractiveShell):
    """See the module's docstring. ``publish(msg_type, content)`` receives the output messages."""

    displayhook_class = NotebookDisplayHook
    display_pub_class = NotebookDisplayPublisher

    def __init__(self, publish, **kwargs):
        self.publish = publish
        InteractiveShell.__init__(self, **kwargs)
        # ipykernel does this for tqdm's notebook detection (github.com/tqdm/tqdm/pull/1628).
        self.config.IPKernelApp.tqdm = "a notebook kernel's shell"
        self.kernel = _Kernel(self)
        self.parent_header = {}
        # The tracebacks of the last error, for result.json.
        self.last_traceback = None

    def init_environment(self):
        env = os.environ
        env["TERM"] = "xterm-color"
        env["CLICOLOR"] = "1"
        env["FORCE_COLOR"] = "1"
        env["CLICOLOR_FORCE"] = "1"
        env["PAGER"] = "cat"
        env["GIT_PAGER"] = "cat"
        if not env.get("MPLBACKEND"):
            from importlib.util import find_spec

            if find_spec("matplotlib_inline") is not None:
                env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

    def init_virtualenv(self):
        pass

    def init_hooks(self):
        InteractiveShell.init_hooks(self)
        # ipykernel's hook (ZMQInteractiveShell.init_hooks): the text goes to the payload manager.
        from IPython.core import page, payloadpage

        self.set_hook("show_in_pager", page.as_hook(payloadpage.page), 99)

    def enable_gui(self, gui=None):
        if gui not in (None, "inline"):
            raise UsageError("a pipeline task has no display for a %s event loop" % gui)

    def _showtraceback(self, etype, evalue, stb):
        sys.stdout.flush()
        sys.stderr.flush()
        self.last_traceback = stb
        content = {"ename": getattr(etype, "__name__", str(etype)), "evalue": _safe_str(evalue), "traceback": stb}
        self.publish("error", content)


def _safe_str(value):
    try:
        return str(value)
    except Exception:
        return "<unprintable %s>" % type(value).__name__


def notebook_shell(main_module, publish):
    """The shell, with `main_module` (sys.modules["__main__"]) as the cells' namespace."""
    import atexit

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = NotebookShell.instance(publish, config=config, user_module=main_module)
    # The run writes its results before the interpreter exits; the shell's exit handler would only
    # clear the namespace (running user objects' finalizers) after that.
    atexit.unregister(shell.atexit_operations)
    return shell


def version_problem():
    """None when this IPython can run the engine, else why not."""
    import IPython

    if IPython.version_info < (8,):
        return "IPython %s is older than 8.0" % IPython.__version__
    return None
