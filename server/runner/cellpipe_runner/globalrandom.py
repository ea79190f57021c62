"""The global random state a task uses (``random``, ``numpy.random``), so that a sequence a
top-to-bottom run would continue from one task into another is reported, never silent.

A top-to-bottom run draws one sequence from each global generator across the whole notebook; a
task starts it afresh from the setup cells. So a task that draws from a global generator without
seeding it first gets other numbers than the same cells in a top-to-bottom run whenever a task
before it (in notebook order) seeded or drew from that generator, whatever the dependencies. The
state is compared after the setup cells and after the task's cells; ``seed`` is wrapped to learn
whether the task seeded before it drew. A ``seed`` the notebook bound to a name of its own before
(``from numpy.random import seed``) is not seen: such a task counts as drawing.
"""

import importlib
import pickle
import sys

# name shown -> (module, function that returns the state)
SOURCES = {"random": ("random", "getstate"), "numpy.random": ("numpy.random", "get_state")}


def _state(module, getter):
    try:
        return pickle.dumps(getattr(module, getter)(), protocol=4)
    except Exception:
        return None


class GlobalRandom(object):
    def __init__(self):
        self.watched = {}

    def start(self, code=""):
        """After the setup cells, before the task's: what each generator is now. A generator's module
        that the task's ``code`` names is imported now if it is not yet, so that one the cells import
        themselves is watched too (importing it again in a cell changes nothing)."""
        for name, (module_name, getter) in SOURCES.items():
            module = sys.modules.get(module_name)
            if module is None and module_name.split(".")[0] in code:
                try:
                    module = importlib.import_module(module_name)
                except Exception:
                    module = None
            if module is None:
                continue
            start = _state(module, getter)
            if start is None:
                continue
            entry = {"module": module, "getter": getter, "start": start, "seeded": None}
            seed = getattr(module, "seed", None)
            if callable(seed):
                module.seed = self._wrap(entry, seed)
            self.watched[name] = entry

    @staticmethod
    def _wrap(entry, seed):
        def wrapped(*args, **kwargs):
            if entry["seeded"] is None:
                # Seeded before any draw: what follows does not depend on the tasks before.
                entry["seeded"] = _state(entry["module"], entry["getter"]) == entry["start"]
            return seed(*args, **kwargs)

        wrapped.__wrapped__ = seed
        wrapped.__doc__ = seed.__doc__
        wrapped.__name__ = getattr(seed, "__name__", "seed")
        return wrapped

    def summary(self):
        """Per generator the task used: whether its numbers continue the state it started with."""
        out = {}
        for name, entry in self.watched.items():
            touched = entry["seeded"] is not None or _state(entry["module"], entry["getter"]) != entry["start"]
            if touched:
                out[name] = {"continues": entry["seeded"] is not True}
        return out
