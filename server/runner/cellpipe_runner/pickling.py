"""How values are pickled between tasks: by reference where the consumer has the object, by value
(cloudpickle, vendored in ``_vendor/cloudpickle``) where it does not.

A function or class of the notebook (module ``__main__``) is pickled one of two ways:

- by reference (``__main__.Model``, as pickle does) when it was made by a top-level ``def`` or
  ``class`` statement of a cell the task ran (setup cells, definitions, its own cells), and is still
  what that name is bound to. The compiler passes exactly those statements by source: a task whose
  inputs may hold one runs the statement again, so the reference finds the class it defined, and
  ``isinstance`` holds between the values it loads and the instances it makes.
- by value otherwise: lambdas, closures and nested functions, functions and classes defined inside
  a block, classes made by a call (``collections.namedtuple``, ``typing.NamedTuple('P', ...)``,
  ``enum.Enum('Color', 'RED GREEN')``, ``dataclasses.make_dataclass``, ``type(...)``), with what
  they read from the namespace (by value too, except what the first rule covers). A consumer gets
  them without defining anything. Classes pickled by value keep their identity within a process
  (cloudpickle's class tracker), so ``p`` and ``P`` saved by one task come out as one class in the
  tasks that load both.

Everything else is pickled as pickle does it: classes and functions of installed modules by
reference, modules by name. Open files stay unpicklable (cloudpickle would copy a text file's
contents into a StringIO, which is not the same value). Loading is ``pickle.load``: the by-value
parts name functions of ``cellpipe_runner._vendor.cloudpickle``, which every task's runner (and a
kernel engine's kernel) can import.

Which names are by source is read from the sources with ``ast`` rather than from the objects: a
class made by ``namedtuple`` looks like one made by a ``class`` statement (``__module__``
``__main__``, bound at its ``__qualname__``).
"""

import ast
import copyreg
import io
import sys
import types

from ._vendor.cloudpickle import cloudpickle
from .ipython import dedent, transform_magics


def by_source_names(sources):
    """The names whose last binding in the given cell sources, in order, is a top-level ``def`` or
    ``class`` statement (the compiler's by-source functions and classes; `f = wrap(f)` after `def
    f` makes `f` a value again). Cells that are not Python even after the magics are rewritten are
    left out."""
    names = set()
    for source in sources:
        source = dedent(source)
        try:
            tree = ast.parse(source)
        except SyntaxError:
            try:
                tree = ast.parse(transform_magics(source)[0])
            except SyntaxError:
                continue
        for node in tree.body:
            if isinstance(node, _DEFINITIONS):
                names.add(node.name)
            else:
                names.difference_update(_module_bindings(node))
    return frozenset(names)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _module_bindings(statement):
    """The module-level names a statement that is not a definition binds or deletes (in its blocks
    too, not in the functions, classes, lambdas and comprehensions it makes)."""
    found, todo = [], [statement]
    while todo:
        node = todo.pop()
        if isinstance(node, _DEFINITIONS):
            found.append(node.name)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            found.append(node.id)
        elif isinstance(node, ast.alias):
            found.append((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.append(node.name)
        todo.extend(ast.iter_child_nodes(node))
    return found


# cloudpickle's reducers, less the one that turns an open text file into a StringIO of its contents.
_DISPATCH = {t: r for t, r in cloudpickle.Pickler._dispatch_table.items() if t is not io.TextIOWrapper}


class Pickler(cloudpickle.Pickler):
    """cloudpickle's Pickler, with the notebook's by-source functions and classes by reference."""

    def __init__(self, file, by_source, protocol=None, buffer_callback=None):
        # A dict, made per dump so it has what copyreg gained since: the C pickler looks up every
        # object's type in it, and cloudpickle's ChainMap answers a miss with a Python exception
        # (100k datetimes pickle in 2.5 times pickle's CPU time with it, 1.35 times with a dict).
        # Set first: the C pickler's __init__ reads it.
        self.dispatch_table = {**copyreg.dispatch_table, **_DISPATCH}
        super().__init__(file, protocol=protocol, buffer_callback=buffer_callback)
        self.by_source = by_source

    def reducer_override(self, obj):
        # cloudpickle's own, with the by-source rule first (NotImplemented: pickle's save_global,
        # `__main__.<name>`); called for every object that is not a builtin, so kept to one call.
        if isinstance(obj, type):
            return NotImplemented if self._by_reference(obj) else cloudpickle._class_reduce(obj)
        if isinstance(obj, types.FunctionType):
            return NotImplemented if self._by_reference(obj) else self._function_reduce(obj)
        return NotImplemented

    def _by_reference(self, obj):
        if getattr(obj, "__module__", None) != "__main__":
            return False
        name = getattr(obj, "__qualname__", None)
        if name not in self.by_source:
            return False
        main = sys.modules.get("__main__")
        return main is not None and getattr(main, name, None) is obj


def dump(value, f, by_source, protocol=None, buffer_callback=None):
    Pickler(f, by_source, protocol=protocol, buffer_callback=buffer_callback).dump(value)
