"""The text/plain of a result as Jupyter shows it: IPython's pretty printer, without IPython.

A pipeline must show what the notebook shows, and Jupyter renders a cell's value with
IPython.lib.pretty (79 columns, at most 1000 items, dict keys in insertion order, set items sorted,
``module.Class`` for classes, ``<function module.f(x)>`` for functions, ``<module.Class at 0x...>``
for objects without a repr of their own, ``_repr_pretty_`` honoured). This module is that printer,
adapted from IPython.lib.pretty (itself based on Ruby's prettyprint.rb), under its licence:

    Copyright (c) 2008-Present, IPython Development Team
    Copyright (c) 2001-2007, Fernando Perez <fernando.perez@colorado.edu>
    Copyright (c) 2001, Janko Hauser <jhauser@zscout.de>
    Copyright (c) 2001, Nathaniel Gray <n8gray@caltech.edu>
    All rights reserved.

    Redistribution and use in source and binary forms, with or without modification, are permitted
    provided that the following conditions are met: redistributions of source code must retain the
    above copyright notice, this list of conditions and the following disclaimer; redistributions in
    binary form must reproduce the above copyright notice, this list of conditions and the following
    disclaimer in the documentation and/or other materials provided with the distribution; neither
    the name of the IPython Development Team nor the names of its contributors may be used to
    endorse or promote products derived from this software without specific prior written
    permission. THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY
    EXPRESS OR IMPLIED WARRANTIES ARE DISCLAIMED; IN NO EVENT SHALL THE COPYRIGHT OWNER OR
    CONTRIBUTORS BE LIABLE FOR ANY DAMAGES ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE.
"""

import types
from collections import deque

MAX_WIDTH = 79
MAX_SEQ_LENGTH = 1000


def pretty(obj):
    """The text Jupyter shows for obj as a cell's result or a display()."""
    out = []
    printer = _Printer(out)
    printer.pretty(obj)
    printer.flush()
    return "".join(out)


def _safe_getattr(obj, attr, default=None):
    try:
        return getattr(obj, attr, default)
    except Exception:
        return default


def _sorted(items):
    items = list(items)
    try:
        return sorted(items)
    except Exception:
        try:
            return sorted(items, key=str)
        except Exception:
            return items


class _Text(object):
    def __init__(self):
        self.objs = []
        self.width = 0

    def output(self, out, width):
        out.extend(self.objs)
        return width + self.width

    def add(self, obj, width):
        self.objs.append(obj)
        self.width += width


class _Breakable(object):
    def __init__(self, sep, width, printer):
        self.obj = sep
        self.width = width
        self.printer = printer
        self.indentation = printer.indentation
        self.group = printer.group_stack[-1]
        self.group.breakables.append(self)

    def output(self, out, width):
        self.group.breakables.popleft()
        if self.group.want_break:
            out.append("\n" + " " * self.indentation)
            return self.indentation
        if not self.group.breakables:
            self.printer.group_queue.remove(self.group)
        out.append(self.obj)
        return width + self.width


class _Group(object):
    def __init__(self, depth):
        self.depth = depth
        self.breakables = deque()
        self.want_break = False


class _GroupQueue(object):
    def __init__(self, group):
        self.queue = []
        self.enq(group)

    def enq(self, group):
        while group.depth > len(self.queue) - 1:
            self.queue.append([])
        self.queue[group.depth].append(group)

    def deq(self):
        for stack in self.queue:
            for idx, group in enumerate(reversed(stack)):
                if group.breakables:
                    del stack[idx]
                    group.want_break = True
                    return group
            for group in stack:
                group.want_break = True
            del stack[:]
        return None

    def remove(self, group):
        try:
            self.queue[group.depth].remove(group)
        except ValueError:
            pass


class _Indent(object):
    def __init__(self, printer, indent):
        self.printer, self.indent = printer, indent

    def __enter__(self):
        self.printer.indentation += self.indent

    def __exit__(self, *exc):
        self.printer.indentation -= self.indent


class _GroupContext(object):
    def __init__(self, printer, indent, open, close):
        self.printer, self.indent, self.open, self.close = printer, indent, open, close

    def __enter__(self):
        self.printer.begin_group(self.indent, self.open)

    def __exit__(self, *exc):
        self.printer.end_group(self.indent, self.close)


class _Printer(object):
    """IPython's RepresentationPrinter: the API `_repr_pretty_(p, cycle)` methods call."""

    def __init__(self, out):
        self.output = out
        self.max_width = MAX_WIDTH
        self.max_seq_length = MAX_SEQ_LENGTH
        self.verbose = False
        self.output_width = 0
        self.buffer_width = 0
        self.buffer = deque()
        root = _Group(0)
        self.group_stack = [root]
        self.group_queue = _GroupQueue(root)
        self.indentation = 0
        self.stack = []

    # ---- layout ---------------------------------------------------------------------------------

    def _break_one_group(self, group):
        while group.breakables:
            x = self.buffer.popleft()
            self.output_width = x.output(self.output, self.output_width)
            self.buffer_width -= x.width
        while self.buffer and isinstance(self.buffer[0], _Text):
            x = self.buffer.popleft()
            self.output_width = x.output(self.output, self.output_width)
            self.buffer_width -= x.width

    def _break_outer_groups(self):
        while self.max_width < self.output_width + self.buffer_width:
            group = self.group_queue.deq()
            if not group:
                return
            self._break_one_group(group)

    def text(self, obj):
        width = len(obj)
        if self.buffer:
            text = self.buffer[-1]
            if not isinstance(text, _Text):
                text = _Text()
                self.buffer.append(text)
            text.add(obj, width)
            self.buffer_width += width
            self._break_outer_groups()
        else:
            self.output.append(obj)
            self.output_width += width

    def breakable(self, sep=" "):
        width = len(sep)
        group = self.group_stack[-1]
        if group.want_break:
            self.flush()
            self.output.append("\n" + " " * self.indentation)
            self.output_width = self.indentation
            self.buffer_width = 0
        else:
            self.buffer.append(_Breakable(sep, width, self))
            self.buffer_width += width
            self._break_outer_groups()

    def break_(self):
        group = self.group_queue.deq()
        if group:
            self._break_one_group(group)
        self.flush()
        self.output.append("\n" + " " * self.indentation)
        self.output_width = self.indentation
        self.buffer_width = 0

    def begin_group(self, indent=0, open=""):
        if open:
            self.text(open)
        group = _Group(self.group_stack[-1].depth + 1)
        self.group_stack.append(group)
        self.group_queue.enq(group)
        self.indentation += indent

    def end_group(self, dedent=0, close=""):
        self.indentation -= dedent
        group = self.group_stack.pop()
        if not group.breakables:
            self.group_queue.remove(group)
        if close:
            self.text(close)

    def indent(self, indent):
        return _Indent(self, indent)

    def group(self, indent=0, open="", close=""):
        return _GroupContext(self, indent, open, close)

    def _enumerate(self, seq):
        for idx, x in enumerate(seq):
            if self.max_seq_length and idx >= self.max_seq_length:
                self.text(",")
                self.breakable()
                self.text("...")
                return
            yield idx, x

    def flush(self):
        for data in self.buffer:
            self.output_width += data.output(self.output, self.output_width)
        self.buffer.clear()
        self.buffer_width = 0

    # ---- values ---------------------------------------------------------------------------------

    def pretty(self, obj):
        obj_id = id(obj)
        cycle = obj_id in self.stack
        self.stack.append(obj_id)
        self.begin_group()
        try:
            if obj is None or obj is True or obj is False or obj is Ellipsis or obj is NotImplemented:
                return _repr(obj, self, cycle)
            cls = _safe_getattr(obj, "__class__", None) or type(obj)
            for base in _mro(cls):
                printer = _printer_for(base)
                if printer is not None:
                    return printer(obj, self, cycle)
                if "_repr_pretty_" in base.__dict__:
                    method = base._repr_pretty_
                    if callable(method):
                        return method(obj, self, cycle)
                if base is not object and "__repr__" in base.__dict__ and callable(_safe_getattr(base, "__repr__")):
                    return _repr(obj, self, cycle)
            return _default(obj, self, cycle)
        finally:
            self.end_group()
            self.stack.pop()


def _mro(cls):
    mro = _safe_getattr(cls, "__mro__")
    return mro if isinstance(mro, tuple) else (cls,)


def _repr(obj, p, cycle):
    lines = repr(obj).splitlines()
    with p.group():
        for idx, line in enumerate(lines):
            if idx:
                p.break_()
            p.text(line)


def _default(obj, p, cycle):
    cls = _safe_getattr(obj, "__class__", None) or type(obj)
    if _safe_getattr(cls, "__repr__") is not object.__repr__:
        return _repr(obj, p, cycle)
    p.begin_group(1, "<")
    p.pretty(cls)
    p.text(" at 0x%x" % id(obj))
    if cycle:
        p.text(" ...")
    p.end_group(1, ">")


def _sequence(start, end):
    def printer(obj, p, cycle):
        if cycle:
            return p.text(start + "..." + end)
        step = len(start)
        p.begin_group(step, start)
        for idx, x in p._enumerate(obj):
            if idx:
                p.text(",")
                p.breakable()
            p.pretty(x)
        if len(obj) == 1 and isinstance(obj, tuple):
            p.text(",")
        p.end_group(step, end)

    return printer


def _set(start, end):
    def printer(obj, p, cycle):
        if cycle:
            return p.text(start + "..." + end)
        if not obj:
            return p.text(type(obj).__name__ + "()")
        step = len(start)
        p.begin_group(step, start)
        items = obj if p.max_seq_length and len(obj) >= p.max_seq_length else _sorted(obj)
        for idx, x in p._enumerate(items):
            if idx:
                p.text(",")
                p.breakable()
            p.pretty(x)
        p.end_group(step, end)

    return printer


def _mapping(start, end):
    def printer(obj, p, cycle):
        if cycle:
            return p.text("{...}")
        step = len(start)
        p.begin_group(step, start)
        for idx, key in p._enumerate(obj.keys()):
            if idx:
                p.text(",")
                p.breakable()
            p.pretty(key)
            p.text(": ")
            p.pretty(obj[key])
        p.end_group(step, end)

    return printer


def _type(obj, p, cycle):
    # A metaclass with its own __repr__ keeps it.
    if [m for m in _mro(type(obj)) if "__repr__" in vars(m)][:1] != [type]:
        return _repr(obj, p, cycle)
    module = _safe_getattr(obj, "__module__")
    name = _safe_getattr(obj, "__qualname__")
    if not isinstance(name, str):
        name = _safe_getattr(obj, "__name__")
        if not isinstance(name, str):
            name = "<unknown type>"
    p.text(name if module in (None, "__builtin__", "builtins", "exceptions") else module + "." + name)


def _function(obj, p, cycle):
    name = _safe_getattr(obj, "__qualname__", obj.__name__)
    module = obj.__module__
    if module and module not in ("__builtin__", "builtins", "exceptions"):
        name = module + "." + name
    try:
        from inspect import signature

        name += str(signature(obj))
    except (ValueError, TypeError):
        pass
    p.text("<function %s>" % name)


class _Call(object):
    """Prints as name(arg, key=value), broken like IPython's CallExpression."""

    def __init__(self, name, *args, **kwargs):
        self.name, self.args, self.kwargs = name, args, kwargs

    def _repr_pretty_(self, p, cycle):
        started = [False]

        def item():
            if started[0]:
                p.text(",")
                p.breakable()
            started[0] = True

        prefix = self.name + "("
        with p.group(len(prefix), prefix, ")"):
            for arg in self.args:
                item()
                p.pretty(arg)
            for key, value in self.kwargs.items():
                item()
                start = key + "="
                with p.group(len(start), start):
                    p.pretty(value)


class _Raw(object):
    def __init__(self, text):
        self.text = text

    def _repr_pretty_(self, p, cycle):
        p.text(self.text)


def _exception(obj, p, cycle):
    cls = obj.__class__
    name = getattr(cls, "__qualname__", cls.__name__)
    if cls.__module__ not in ("exceptions", "builtins"):
        name = "%s.%s" % (cls.__module__, name)
    p.pretty(_Call(name, *getattr(obj, "args", ())))


def _namespace(obj, p, cycle):
    p.pretty(_Call("namespace", _Raw("...")) if cycle else _Call("namespace", **obj.__dict__))


def _super(obj, p, cycle):
    p.begin_group(8, "<super: ")
    p.pretty(obj.__thisclass__)
    p.text(",")
    p.breakable()
    p.pretty(obj.__self__)
    p.end_group(8, ">")


def _collections(kind):
    def printer(obj, p, cycle):
        name = obj.__class__.__name__
        if cycle:
            return p.pretty(_Call(name, _Raw("...")))
        if kind == "defaultdict":
            return p.pretty(_Call(name, obj.default_factory, dict(obj)))
        if kind == "OrderedDict":
            return p.pretty(_Call(name, list(obj.items())) if len(obj) else _Call(name))
        if kind == "deque":
            if obj.maxlen is not None:
                return p.pretty(_Call(name, list(obj), maxlen=obj.maxlen))
            return p.pretty(_Call(name, list(obj)))
        if kind == "Counter":
            return p.pretty(_Call(name, dict(obj.most_common())) if len(obj) else _Call(name))
        return p.pretty(_Call(name, obj.data))  # UserList

    return printer


_PRINTERS = None
_BY_NAME = {
    ("collections", name): _collections(name) for name in ("defaultdict", "OrderedDict", "deque", "Counter", "UserList")
}


def _printer_for(cls):
    global _PRINTERS
    if _PRINTERS is None:
        import datetime
        import os

        _PRINTERS = {
            int: _repr,
            float: _repr,
            str: _repr,
            bytes: _repr,
            slice: _repr,
            range: _repr,
            tuple: _sequence("(", ")"),
            list: _sequence("[", "]"),
            dict: _mapping("{", "}"),
            set: _set("{", "}"),
            frozenset: _set("frozenset({", "})"),
            super: _super,
            type: _type,
            types.FunctionType: _function,
            types.BuiltinFunctionType: _function,
            types.MethodType: _repr,
            types.SimpleNamespace: _namespace,
            types.MappingProxyType: _mapping("mappingproxy({", "})"),
            datetime.datetime: _repr,
            datetime.timedelta: _repr,
            BaseException: _exception,
        }
        if type(os.environ) is not dict:
            _PRINTERS[type(os.environ)] = _mapping("environ{", "}")
    printer = _PRINTERS.get(cls)
    if printer is None:
        printer = _BY_NAME.get((_safe_getattr(cls, "__module__"), _safe_getattr(cls, "__name__")))
    return printer
