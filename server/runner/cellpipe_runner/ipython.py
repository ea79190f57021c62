"""IPython syntax without IPython, for the stdlib engine.

- ``dedent``: a cell's common leading indentation is removed, as IPython's ``leading_indent`` does.
- ``split_cell_magic``: a ``%%magic`` first line.
- ``transform_magics``: line magics, ``!shell`` and ``obj?`` lines rewritten into plain Python with
  the same line numbers; ``%time stmt``, ``%timeit stmt`` and ``%env`` are emulated (the statement
  runs in the user namespace), the rest is skipped with a note.
- ``Timer`` and ``timeit``: what ``%time`` / ``%%time`` and ``%timeit`` / ``%%timeit`` print.
"""

import os
import sys
import time


def dedent(source):
    """IPython removes the common leading indentation of a cell before running it (textwrap.dedent,
    which also empties lines holding only whitespace). Lines keep their numbers."""
    if not any(line[:1] in (" ", "\t") for line in source.split("\n")):
        return source
    import textwrap

    return textwrap.dedent(source)


def split_cell_magic(source):
    """(name, args, body) when the cell starts with a %%magic line, else None."""
    lines = source.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("%%"):
            return None
        head = stripped[2:].split(None, 1)
        name = head[0] if head else ""
        args = head[1] if len(head) > 1 else ""
        # Blank lines keep the body's line numbers those of the cell.
        body = "\n" * (i + 1) + "\n".join(lines[i + 1 :])
        return name, args, body
    return None


def _looks_magic(line):
    s = line.lstrip()
    if not s:
        return None
    if s[0] == "%":
        return "magic"
    if s[0] == "!":
        return "shell"
    if s.endswith("?") and not s.startswith("#"):
        core = s.rstrip("?")
        if core and all(c.isalnum() or c in "._" for c in core):
            return "help"
    if s.startswith("?"):
        return "help"
    # `files = !ls` and `t = %timeit f()`
    eq = s.find("=")
    if 0 < eq < len(s) - 1 and s[eq - 1] not in "=!<>+-*/%&|^@:" and s[eq + 1] != "=":
        rhs = s[eq + 1 :].lstrip()
        if rhs[:1] in ("!", "%"):
            return "shell" if rhs[0] == "!" else "magic"
    return None


def transform_magics(source):
    """Rewrites IPython line magics, shell and help lines into plain Python.

    Returns (python_source, notes). Lines keep their numbers so tracebacks point at the user's line.
    Only called for cells that are not valid Python; even then a line that starts inside a string,
    inside brackets or after a backslash (`x = (a\n % b)`) is Python, not a magic.
    """
    lines = source.split("\n")
    notes = []
    out = []
    continuation = False
    scanner = _Scanner()
    for lineno, line in enumerate(lines, 1):
        if continuation:
            out.append("")
            continuation = line.rstrip().endswith("\\")
            continue
        what = None if scanner.inside() else _looks_magic(line)
        if what is None:
            out.append(line)
            scanner.feed(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        text = line.strip()
        continuation = text.endswith("\\")
        if what == "magic" and text.startswith("%time ") and not continuation:
            # %time <statement>: run it and print the timing, as IPython does; an expression's value
            # is the line's value (shown when it ends the cell).
            statement = text[len("%time ") :].strip()
            if _is_expression(statement):
                out.append("%s_cellpipe_time_eval(%r, globals())" % (indent, statement))
            else:
                out.append("%swith _cellpipe_time(): %s" % (indent, statement))
            continue
        if what == "magic" and text.startswith("%timeit ") and not continuation:
            # The statement runs in a function whose globals are the user namespace, as in IPython.
            out.append("%s_cellpipe_timeit(%r, globals())" % (indent, text[len("%timeit ") :].strip()))
            continue
        if what == "magic" and (text.startswith("%env ") or text == "%env"):
            assignment = _env_assignment(text[len("%env") :].strip())
            if assignment:
                out.append("%s__import__('os').environ[%r] = %r" % (indent, assignment[0], assignment[1]))
                continue
        kind = {"magic": "magic", "shell": "shell line", "help": "help line"}[what]
        notes.append("skipped %s at line %d: %s" % (kind, lineno, text))
        out.append(indent + "pass")
    return "\n".join(out), notes


class _Scanner(object):
    """Just enough of Python's tokenizer to know whether the next line starts inside a string,
    brackets or a backslash continuation."""

    def __init__(self):
        self.depth = 0
        self.quote = None
        self.backslash = False

    def inside(self):
        return self.depth > 0 or self.quote is not None or self.backslash

    def feed(self, line):
        i, n = 0, len(line)
        self.backslash = False
        while i < n:
            c = line[i]
            if self.quote is not None:
                if c == "\\":
                    if i == n - 1:
                        self.backslash = True
                    i += 2
                elif line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = None
                else:
                    i += 1
                continue
            if c == "#":
                break
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            elif c in "\"'":
                triple = line[i : i + 3]
                self.quote = triple if triple in ('"""', "'''") else c
                i += len(self.quote)
                continue
            elif c == "\\" and i == n - 1:
                self.backslash = True
            i += 1
        if self.quote in ('"', "'") and not self.backslash:
            self.quote = None  # an unterminated one-line string: the compiler will say so


def _is_expression(source):
    try:
        compile(source, "<timed eval>", "eval", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def _env_assignment(args):
    """%env NAME=value / %env NAME value -> (NAME, value); reading forms are skipped."""
    if "=" in args:
        name, _, value = args.partition("=")
    else:
        parts = args.split(None, 1)
        if len(parts) != 2:
            return None
        name, value = parts
    name = name.strip()
    if not name or not all(c.isalnum() or c == "_" for c in name):
        return None
    return name, value.strip()


def format_time(seconds, precision=3):
    """IPython's _format_time: 1.23 s, 4.56 ms, 7.89 µs, 12 ns."""
    if seconds >= 60.0:
        minutes, rest = divmod(seconds, 60.0)
        return "%dmin %.*g s" % (minutes, precision, rest)
    units = ("s", "ms", "\xb5s", "ns")
    if seconds > 0.0:
        import math

        order = min(-int(math.floor(math.log10(seconds)) // 3), 3)
    else:
        order = 3
    return "%.*g %s" % (precision, seconds * 1000**order, units[order])


class Timer(object):
    """Context manager behind %time / %%time: prints IPython's two timing lines to stdout."""

    def __enter__(self):
        self._cpu = os.times()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self._wall
        end = os.times()
        user = end.user - self._cpu.user
        system = end.system - self._cpu.system
        sys.stdout.write(
            "CPU times: user %s, sys: %s, total: %s\nWall time: %s\n"
            % (format_time(user), format_time(system), format_time(user + system), format_time(wall))
        )
        return False


def time_eval(source, namespace):
    """%time <expression>: evaluates it in the user namespace, prints the timing, returns the value."""
    code = compile(source, "<timed eval>", "eval", dont_inherit=True)
    with Timer():
        return eval(code, namespace)


def timeit(args, namespace, body=None):
    """%timeit [-n N] [-r R] [-q] stmt, or %%timeit [options] [setup] with the cell as the statement.

    Like IPython: the statement is the body of a loop in a function whose globals are the user
    namespace (its assignments stay local), the number of loops is chosen so one run takes at least
    0.2 s, the best of R (default 7) runs is summarised as mean ± std. dev. per loop."""
    import timeit as _timeit

    number, repeat, quiet, rest = 0, 7, False, args.strip()
    while rest.startswith("-"):
        option, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        flag, value = option[:2], option[2:]
        if flag in ("-n", "-r", "-p") and not value:
            value, _, rest = rest.partition(" ")
            rest = rest.lstrip()
        if flag == "-n":
            number = int(value)
        elif flag == "-r":
            repeat = int(value)
        elif option == "-q":
            quiet = True
    stmt, setup = (rest, "pass") if body is None else (body, rest or "pass")
    timer = _timeit.Timer(stmt, setup, globals=namespace)
    if number == 0:
        for exponent in range(10):
            number = 10**exponent
            if timer.timeit(number) >= 0.2:
                break
    runs = [t / number for t in timer.repeat(repeat, number)]
    mean = sum(runs) / len(runs)
    std = (sum((t - mean) ** 2 for t in runs) / len(runs)) ** 0.5
    if not quiet:
        sys.stdout.write(
            "%s \xb1 %s per loop (mean \xb1 std. dev. of %d run%s, %s loop%s each)\n"
            % (
                format_time(mean),
                format_time(std),
                repeat,
                "" if repeat == 1 else "s",
                "{:,}".format(number),
                "" if number == 1 else "s",
            )
        )
