"""SIGTERM: a cancel, an eviction or a preemption. The run reacts within milliseconds, even while a
cell is inside a native call that released the GIL: the signal's wakeup fd is watched by a thread."""

import os
import time


def signal_module():
    # The C module behind `signal`: the same functions without building the enums (about 1 ms).
    try:
        import _signal

        return _signal
    except ImportError:
        import signal

        return signal


def block_sigterm(how=None):
    signal = signal_module()
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK if how is None else how, {signal.SIGTERM})
    except (AttributeError, ValueError, OSError):
        pass


def unblock_sigterm():
    block_sigterm(signal_module().SIG_UNBLOCK)


def reset_signals_in_child():
    signal = signal_module()
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError):
        pass
    unblock_sigterm()  # blocked by block_sigterm() around fork()


def killpg(pid, sig):
    """Signals a process group, or the process when it leads none."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except OSError:
            pass


class Sigterm(object):
    """Turns SIGTERM into ``cancel("SIGTERM")``; ``where()`` names the running cell (or None)."""

    def __init__(self, cancel, where):
        self._cancel = cancel
        self._where = where
        self._pid = os.getpid()
        self._wakeup_r = None
        self.seen = False
        # The cell that was running when the signal came, for a run that ends through a handler of
        # the cells' own.
        self.cell = None

    def install(self):
        import _thread

        signal = signal_module()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        # A Python-level handler only runs between bytecodes of the main thread; a native call
        # that releases the GIL (numpy, torch, I/O) would delay it. The wakeup fd is written by
        # the C-level handler at once, and a helper thread acts on it.
        try:
            r, w = os.pipe()
            os.set_blocking(w, False)
            signal.set_wakeup_fd(w, warn_on_full_buffer=False)
            _thread.start_new_thread(self._watch_wakeup_fd, (r, signal))
            self._wakeup_r = r
        except (OSError, ValueError, RuntimeError):
            pass
        # Forked children (multiprocessing) must not report the task as cancelled when their
        # parent terminates them: they get the default SIGTERM behaviour back. SIGTERM stays blocked
        # across fork() so none reaches a child before that, through the wakeup fd it shares.
        os.register_at_fork(
            before=block_sigterm, after_in_parent=unblock_sigterm, after_in_child=reset_signals_in_child
        )

    def _on_sigterm(self, signum, frame):
        if os.getpid() != self._pid:
            reset_signals_in_child()
            os.kill(os.getpid(), signum)
            return
        self.seen = True
        self._cancel("SIGTERM")

    def _watch_wakeup_fd(self, fd, signal):
        sigterm = int(signal.SIGTERM)
        while True:
            try:
                data = os.read(fd, 64)
            except InterruptedError:
                continue
            except OSError:
                return
            if not data:
                return
            if sigterm in data and os.getpid() == self._pid:
                if not self.seen:
                    self.cell = self._where()
                self.seen = True
                # User code that installed its own SIGTERM handler (a training loop that saves a
                # checkpoint on preemption) gets to run it; the run then ends as cancelled.
                if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                    self._cancel("SIGTERM")

    def await_watcher(self):
        """
        A cell's own SIGTERM handler that calls sys.exit() can end the run before the watcher
        thread, woken by the signal, gets the GIL back to record it: after such an exit, yield to
        it for a moment so the run is reported as cancelled, not as done.
        """
        if self._wakeup_r is None:
            return
        deadline = time.monotonic() + 0.2
        while not self.seen and time.monotonic() < deadline:
            time.sleep(0.005)
