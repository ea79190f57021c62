"""The kernel engine (optional): the same run in an IPython kernel, when the image has ipykernel.

Magics, ``!shell`` lines and IPython's display machinery work for real. Everything else is the
stdlib engine's: the plan, task.json, result.json, variable files, log markers, notebook and exit
codes. The kernel imports this package (``kernel_side``, as ``_cellpipe_kernel``) from the same
zipapp or folder, and variables, definitions and fingerprints are handled there, in the kernel.
"""

import os
import time

from .engine import Runner
from .failures import EXIT_CANCELLED, KernelDied, TaskFailure, cell_failure
from .signals import killpg, signal_module


def kernel_available():
    from importlib.util import find_spec

    return find_spec("jupyter_client") is not None and find_spec("ipykernel") is not None


class KernelRunner(Runner):
    ENGINE = "kernel"
    KILL_GRACE_S = 2.0

    def __init__(self, *args, **kwargs):
        Runner.__init__(self, *args, **kwargs)
        self.km = None
        self.kc = None
        self._kernel_pid = None

    # ---- kernel lifecycle -------------------------------------------------------------------------

    def prepare(self):
        import json

        self.prepare_folders_and_env()
        if not kernel_available():
            import sys

            raise TaskFailure("the kernel engine needs jupyter_client and ipykernel in %s" % sys.executable, "kernel")
        import tempfile

        from jupyter_client.manager import KernelManager

        # ipc: no TCP ports, and the connection file's sockets live in a private folder.
        self._kernel_dir = tempfile.mkdtemp(prefix="cellpipe-kernel-")
        km = KernelManager(
            kernel_name="python3", transport="ipc", connection_file=os.path.join(self._kernel_dir, "kernel.json")
        )
        km.ip = os.path.join(self._kernel_dir, "k")
        km.start_kernel(cwd=os.getcwd(), env=dict(os.environ))
        self.km = km
        self._kernel_pid = getattr(km.provisioner, "pid", None)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=120)
        except RuntimeError as e:
            raise TaskFailure("the kernel did not start: %s" % e, "kernel")
        self.kc = kc
        argv, file, path0 = self.user_argv_file_path0()
        # The package is imported from the end of the kernel's sys.path: the user's modules win.
        setup = (
            "def _cellpipe_setup(home):\n"
            "    import sys\n"
            "    if home not in sys.path:\n"
            "        sys.path.append(home)\n"
            "    import cellpipe_runner.kernel_side as module\n"
            "    sys.modules['_cellpipe_kernel'] = module\n"
            "_cellpipe_setup(%r)\n"
            "del _cellpipe_setup\n" % self.home
        )
        self._call(setup)
        self._expr("kernel_prepare(%r, %r, %r, %r)" % (argv, file, path0, json.dumps(self.store.config())))

    def stop_kernel(self, grace=0.0):
        """Ends the kernel and everything it started (it runs in its own process group)."""
        pid = self._kernel_pid
        if pid is None:
            return
        signal = signal_module()
        if grace > 0:
            killpg(pid, signal.SIGTERM)
            deadline = time.time() + grace
            while time.time() < deadline and self._kernel_alive():
                time.sleep(0.02)
        killpg(pid, signal.SIGKILL)
        self._kernel_pid = None
        import shutil

        shutil.rmtree(self._kernel_dir, ignore_errors=True)

    def _kernel_alive(self):
        process = getattr(self.km.provisioner, "process", None) if self.km is not None else None
        if process is None:
            return False
        try:
            return process.poll() is None
        except Exception:
            return False

    def run(self):
        try:
            return Runner.run(self)
        finally:
            try:
                if self.kc is not None:
                    self.kc.stop_channels()
            except Exception:
                pass
            self.stop_kernel()

    def cancel(self, why, exit_code=EXIT_CANCELLED, step=None):
        if self._finish_lock.locked():
            return
        # Which cell was running, before the kernel's end lets the main thread move on.
        step = step or self.current
        # The cells get SIGTERM too (a checkpoint handler may run), then the kernel goes.
        self.stop_kernel(grace=self.KILL_GRACE_S)
        Runner.cancel(self, why, exit_code, step)

    # ---- talking to the kernel --------------------------------------------------------------------

    def _request(self, code, silent, user_expressions=None, on_output=None, stop_on_error=True):
        """Executes code; returns the execute_reply content. Raises KernelDied."""
        import queue

        kc = self.kc
        msg_id = kc.execute(
            code,
            silent=silent,
            store_history=not silent,
            user_expressions=user_expressions or {},
            allow_stdin=False,
            stop_on_error=stop_on_error,
        )
        idle = False
        while not idle:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except queue.Empty:
                if not self._kernel_alive():
                    raise KernelDied()
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status":
                idle = msg["content"].get("execution_state") == "idle"
            elif on_output is not None:
                on_output(kind, msg["content"])
        while True:
            try:
                reply = kc.get_shell_msg(timeout=1)
            except queue.Empty:
                if not self._kernel_alive():
                    raise KernelDied()
                continue
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return reply["content"]

    def _call(self, code):
        reply = self._request(code, silent=True)
        if reply.get("status") != "ok":
            raise RuntimeError("kernel: %s: %s" % (reply.get("ename"), reply.get("evalue")))

    def _expr(self, expression):
        """Evaluates `_cellpipe_kernel.<expression>` in the kernel; returns its JSON result."""
        import ast
        import json

        reply = self._request("", silent=True, user_expressions={"r": "__import__('_cellpipe_kernel')." + expression})
        result = reply.get("user_expressions", {}).get("r", {})
        if result.get("status") != "ok":
            raise RuntimeError("kernel: %s: %s" % (result.get("ename"), result.get("evalue")))
        return json.loads(ast.literal_eval(result["data"]["text/plain"]))

    # ---- engine hooks -----------------------------------------------------------------------------

    def _load_variable(self, item, final):
        return self._expr("kernel_load(%r, %r, %r, %r)" % (item.from_, item.name, final, item.readOnly))

    def _save_variable(self, name):
        return self._expr("kernel_save(%r, %r)" % (name, sorted(self.by_source())))

    def _measure(self, name):
        return tuple(self._expr("kernel_measure(%r, %r)" % (name, sorted(self.by_source()))))

    def _fingerprint(self, name):
        return self._expr("kernel_fingerprint(%r, %r)" % (name, sorted(self.by_source())))

    def _run_definitions(self, definitions):
        import json

        from .contract import to_json

        return self._expr("kernel_define(%r, %r)" % (json.dumps(to_json(definitions)), self.task.cellOffset))

    def _bind(self, name, value):
        import json

        self._expr("kernel_bind(%r, %r)" % (name, json.dumps(value)))

    def _execute(self, step):
        # `Cell In[N]` in IPython's tracebacks then names the notebook position, like `<cell N>`.
        self._call("get_ipython().execution_count = %d" % step.position)
        try:
            # As nbclient: after an error in a cell tagged raises-exception the kernel takes the next request.
            reply = self._request(
                step.source,
                silent=False,
                on_output=lambda kind, content: self._on_output(step, kind, content),
                stop_on_error=not step.raises,
            )
        except KernelDied:
            raise KernelDied(step.position)
        if reply.get("status") == "ok":
            return
        ename = reply.get("ename") or "Error"
        evalue = reply.get("evalue") or ""
        if ename == "SystemExit" and not step.raises:
            # The kernel reports the exit code as text: sys.exit(3) as "3", sys.exit() as "".
            code = None if evalue in ("", "None") else int(evalue) if evalue.lstrip("-").isdigit() else evalue
            raise self._exit(step, code)
        if ename == "KeyboardInterrupt":
            raise KeyboardInterrupt()
        from .tracebacks import strip_ansi

        tb = strip_ansi("\n".join(reply.get("traceback") or [])).strip("\n") + "\n"
        raise cell_failure(ename, evalue, tb, step.position)

    def _on_output(self, step, kind, content):
        out = self.capture.message(kind, content, step.execution_count)
        if kind == "stream":
            name = content.get("name", "stdout")
            (self._real_stderr if name == "stderr" else self._real_stdout).write(content.get("text", ""))
        elif out is not None and kind == "display_data":
            self._real_stdout.write(str(out["data"].get("text/plain", "")) + "\n")
