"""Data passing: where a task's variables come from and go to, and how they are (un)pickled.

A store is the seam between the run and where variables live. ``FileStore`` keeps them as files
under the job's artifact root (``<artifactRoot>/<task>/vars/<name>.pkl``), which the local executor
and a Kubernetes shared data volume see alike. Another store (an HTTP one that streams from and to
the companion server with a per-attempt token) implements the same methods (``where``,
``open_input``, ``save_output``, ``output_where``, ``config``) and ``store_from_config`` learns its
kind; nothing else changes. The kernel engine rebuilds the store inside the kernel from ``config()``,
so variables never travel through the runner process.
Every store passes the contract in tests/test_data.py (StoreContract).
"""

import os

from .display import type_name
from .failures import safe_str


class FileStore(object):
    """Variables as pickle files under the job's artifact root."""

    KIND = "files"

    def __init__(self, artifact_root, vars_dir):
        self.artifact_root = artifact_root
        self.vars_dir = vars_dir

    def config(self):
        return {"kind": self.KIND, "artifactRoot": self.artifact_root, "varsDir": self.vars_dir}

    def where(self, source, name):
        """Where an input is read from, for messages."""
        return os.path.join(self.artifact_root, source, "vars", name + ".pkl")

    def open_input(self, source, name):
        """A readable binary stream of the pickle `source` saved as `name`; FileNotFoundError when
        there is none."""
        return open(self.where(source, name), "rb")

    def save_output(self, name, dump):
        """Calls dump(stream) on a writable binary stream and publishes what it wrote as `name`
        only when it returns: a failed dump leaves nothing behind. Returns the size in bytes."""
        path = os.path.join(self.vars_dir, name + ".pkl")
        tmp = os.path.join(self.vars_dir, ".%s.pkl.%d.tmp" % (name, os.getpid()))
        try:
            with open(tmp, "wb") as f:
                dump(f)
            size = os.path.getsize(tmp)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return size

    def output_where(self, name):
        return os.path.join(self.vars_dir, name + ".pkl")


def store_from_config(config):
    if config.get("kind") == FileStore.KIND:
        return FileStore(config["artifactRoot"], config["varsDir"])
    raise ValueError("unknown variable store %r" % (config.get("kind"),))


def load_variable(namespace, store, source, name, final, loaded=None):
    """Unpickles the input `name` from task `source` into namespace[name] (and loaded[name]).
    None when bound, else what went wrong: {"missing": True, "where"}, {"defer": True} (a class or
    function it needs may be defined later: setup cells, definitions) or {"ename", "message"}."""
    import pickle

    try:
        with store.open_input(source, name) as f:
            value = pickle.load(f)
    except FileNotFoundError:
        return {"missing": True, "where": store.where(source, name)}
    except Exception as e:
        if not final and isinstance(e, (AttributeError, ImportError)):
            return {"defer": True}
        return {"ename": type(e).__name__, "message": safe_str(e)}
    namespace[name] = value
    if loaded is not None:
        loaded[name] = value
    return None


def save_variable(namespace, store, name):
    """Pickles namespace[name] into the store. {"ok": True, "type", "bytes"} or {"ok": False,
    "reason", ...} (reason: missing-output, io, serialization)."""
    import pickle

    if name not in namespace:
        return {"ok": False, "reason": "missing-output"}
    value = namespace[name]
    try:
        size = store.save_output(name, lambda f: pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as e:
        # An OSError with an errno is the disk (full, permissions), not the object.
        reason = "io" if isinstance(e, OSError) and e.errno is not None else "serialization"
        return {
            "ok": False,
            "reason": reason,
            "ename": type(e).__name__,
            "message": safe_str(e),
            "type": type_name(value),
            "path": store.output_where(name),
        }
    return {"ok": True, "type": type_name(value), "bytes": size}
