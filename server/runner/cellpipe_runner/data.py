"""Data passing: where a task's variables come from and go to, and how they are (un)pickled.

A store is the seam between the run and where a task's data lives. ``FileStore`` keeps variables as
files under the job's artifact root (``<artifactRoot>/<task>/vars/<name>.pkl``), which the local
executor and a Kubernetes shared data volume see alike; the run's other files (artifacts, the
executed notebook, result.json) are already where the server reads them. ``ServerStore``
(server_store.py) streams them from and to the companion server over HTTP with a per-attempt token.
A store implements ``where``, ``open_input``, ``save_output``, ``output_where``, ``publish`` and
``config``; task.json ``dataStore`` picks it (``store_for_task``). The kernel engine rebuilds the
store inside the kernel from ``config()``, so variables never travel through the runner process.
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

    def publish(self, what, path, retry_seconds=None):
        """Makes a file the run wrote ("notebook", "result", "files/<rel>") the server's: here it
        already is, at the path task.json gave."""
        return None


def store_for_task(task):
    """The store task.json's `dataStore` asks for (files when absent)."""
    vars_dir = os.path.join(task.outputDir, "vars")
    spec = task.dataStore
    if spec is None or spec.kind == FileStore.KIND:
        return FileStore(task.artifactRoot, vars_dir)
    from .server_store import ServerStore

    return ServerStore(
        spec.url,
        spec.tokenFile,
        task.jobId,
        task.taskName,
        task.attempt,
        task.artifactRoot,
        vars_dir,
        spec.retrySeconds,
    )


def store_from_config(config):
    kind = config.get("kind")
    if kind == FileStore.KIND:
        return FileStore(config["artifactRoot"], config["varsDir"])
    if kind == "server":
        from .server_store import ServerStore

        return ServerStore(
            config["url"],
            config["tokenFile"],
            config["jobId"],
            config["taskName"],
            config["attempt"],
            config["artifactRoot"],
            config["varsDir"],
            config["retrySeconds"],
        )
    raise ValueError("unknown variable store %r" % (kind,))


def load_variable(namespace, store, source, name, final, loaded=None):
    """Unpickles the input `name` from task `source` into namespace[name] (and loaded[name]).
    None when bound, else what went wrong: {"missing": True, "where"}, {"io": True, "message"} (the
    store could not be read), {"defer": True} (a class or function it needs may be defined later:
    setup cells, definitions) or {"ename", "message"}."""
    import pickle

    try:
        with store.open_input(source, name) as f:
            value = pickle.load(f)
    except FileNotFoundError:
        return {"missing": True, "where": store.where(source, name)}
    except OSError as e:
        if e.errno is None:
            return {"ename": type(e).__name__, "message": safe_str(e)}
        return {"io": True, "ename": type(e).__name__, "message": safe_str(e)}
    except Exception as e:
        if not final and isinstance(e, (AttributeError, ImportError)):
            return {"defer": True}
        return {"ename": type(e).__name__, "message": safe_str(e)}
    namespace[name] = value
    if loaded is not None:
        loaded[name] = value
    return None


def save_variable(namespace, store, name, by_source=frozenset()):
    """Pickles namespace[name] into the store (pickling.py: the notebook's functions and classes
    named in by_source by reference, its other ones by value). {"ok": True, "type", "bytes"} or
    {"ok": False, "reason", ...} (reason: missing-output, io, serialization)."""
    import pickle

    from .pickling import dump

    if name not in namespace:
        return {"ok": False, "reason": "missing-output"}
    value = namespace[name]
    try:
        size = store.save_output(name, lambda f: dump(value, f, by_source, protocol=pickle.HIGHEST_PROTOCOL))
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
