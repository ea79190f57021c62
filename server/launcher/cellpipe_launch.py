"""Starts one task attempt for the local executor and carries its output to the attempt's log.

    python3 -I -S cellpipe_launch.py --log-limit BYTES [--user NAME:UID:GID] -- RUNNER ARGV...

The executor spawns it detached (its own session and process group, so it survives the server), with
the attempt's log file as stdout/stderr and a pipe as stdin. It:

1. waits for the line "go" on stdin: the executor puts it into the attempt's cgroup first, so nothing
   of the task runs outside it. End of input without "go" (the server died in between) starts nothing;
2. starts the runner in a child with a pipe as its stdout/stderr, after switching to the task's OS
   user (supplementary groups, group, user) when --user is given;
3. copies the pipe to the log up to --log-limit bytes, then writes one note and drops the rest: the
   task goes on, the log (and the disk) stop growing;
4. ignores SIGTERM/SIGINT/SIGHUP, which a cancel sends to the whole process group: the runner gets
   them and stops cleanly, and this process stays to carry its last words to the log;
5. ends like the runner: its exit code, or the signal that killed it.

Standard library only, and started with -I -S: it runs before and apart from any user code.
"""

import os
import select
import signal
import sys
import time

NO_GO_EXIT = 111
# After the runner ends, output still in the pipe (or from leftovers holding it) is copied this long.
DRAIN_SECONDS = 0.5


def parse_args(argv):
    limit = None
    user = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return limit, user, argv[i + 1 :]
        if arg == "--log-limit":
            limit = int(argv[i + 1])
            i += 2
        elif arg == "--user":
            name, uid, gid = argv[i + 1].rsplit(":", 2)
            user = (name, int(uid), int(gid))
            i += 2
        else:
            raise SystemExit("cellpipe_launch: unknown argument %r" % arg)
    raise SystemExit("cellpipe_launch: missing -- and the runner's command line")


def wait_for_go():
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 1)
        if not chunk:
            return False
        line += chunk
    return line.strip() == b"go"


def start_child(argv, user, write_end, read_end):
    pid = os.fork()
    if pid:
        return pid
    try:
        os.close(read_end)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        if null > 2:
            os.close(null)
        if write_end > 2:
            os.close(write_end)
        if user is not None:
            name, uid, gid = user
            os.initgroups(name, gid)
            os.setgid(gid)
            os.setuid(uid)
            if os.getuid() != uid or os.geteuid() != uid:
                raise OSError("could not switch to user %s" % name)
        os.execvp(argv[0], argv)
    except BaseException as err:  # noqa: BLE001 - the child must never return into the parent's code
        try:
            os.write(2, ("[cellpipe] could not start the task: %s\n" % err).encode("utf-8", "replace"))
        finally:
            os._exit(127)


class LogCopy:
    """Copies to fd 1 up to `limit` bytes, then writes one note; write errors (a full disk) drop output."""

    def __init__(self, limit):
        self.left = limit
        self.limit = limit
        self.noted = False

    def write(self, data):
        if self.left > 0:
            part = data[: self.left]
            self.left -= len(part)
            self.write_all(part)
            data = data[len(part) :]
        if data and not self.noted:
            self.noted = True
            self.write_all(
                (
                    "\n[cellpipe] this attempt's log reached %d bytes (limits.logBytesPerAttempt); "
                    "later output is dropped, the task goes on\n" % self.limit
                ).encode()
            )

    @staticmethod
    def write_all(data):
        view = memoryview(data)
        while view:
            try:
                n = os.write(1, view)
            except InterruptedError:
                continue
            except OSError:
                return
            view = view[n:]


def copy_until_done(read_end, child, log):
    status = None
    drain_until = None
    while True:
        if status is None:
            done, st = os.waitpid(child, os.WNOHANG)
            if done:
                status = st
                drain_until = time.monotonic() + DRAIN_SECONDS
        timeout = 0.2 if status is None else max(0.0, drain_until - time.monotonic())
        ready, _, _ = select.select([read_end], [], [], timeout)
        if ready:
            try:
                data = os.read(read_end, 65536)
            except InterruptedError:
                continue
            if not data:
                break
            log.write(data)
        elif status is not None:
            break
    if status is None:
        _, status = os.waitpid(child, 0)
    return status


def main():
    limit, user, argv = parse_args(sys.argv[1:])
    if not wait_for_go():
        return NO_GO_EXIT
    os.close(0)
    read_end, write_end = os.pipe()
    child = start_child(argv, user, write_end, read_end)
    os.close(write_end)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    status = copy_until_done(read_end, child, LogCopy(limit if limit is not None else 1 << 62))
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig != signal.SIGKILL:
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1


if __name__ == "__main__":
    sys.exit(main())
