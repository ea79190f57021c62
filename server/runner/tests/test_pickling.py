"""How values are pickled between tasks (cellpipe_runner/pickling.py): the notebook's by-source
functions and classes by reference, everything else of __main__ by value. Producer and consumer are
separate Python processes whose __main__ holds the cells' names, as in two tasks."""

import io
import os
import pickle
import pickletools
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

RUNNER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, RUNNER)

from cellpipe_runner import fingerprint, pickling  # noqa: E402

# The producer task's cells: by-source definitions (class and def statements), and values that only
# pickle by value.
PRODUCER = textwrap.dedent(
    """
    import collections, dataclasses, enum, functools, typing

    class Model:
        def __init__(self, w):
            self.w = w

    def double(x):
        return 2 * x

    twice = double

    def make(k):
        def g(x):
            return x * k
        return g

    P = collections.namedtuple("P", "x y")
    p = P(1, 2)
    T = typing.NamedTuple("T", [("a", int)])
    Color = enum.Enum("Color", "RED GREEN")
    D = dataclasses.make_dataclass("D", ["u"])
    X = type("X", (), {"k": 5})
    m = Model(3)
    g2 = make(3)
    f = lambda x: x + 1
    fs = [lambda x: x, lambda x: double(x) + 1]
    inc = functools.partial(lambda a, b: a + b, 10)
    if True:
        def in_block():
            return "block"
    """
)

NAMES = ["Model", "double", "twice", "P", "p", "T", "Color", "D", "X", "m", "g2", "f", "fs", "inc", "in_block"]

SAVE = textwrap.dedent(
    """
    import os, pickle, sys
    from cellpipe_runner import pickling
    by_source = pickling.by_source_names([CELLS])
    for name in NAMES:
        with open(os.path.join(OUT, name + ".pkl"), "wb") as stream:
            pickling.dump(globals()[name], stream, by_source, protocol=pickle.HIGHEST_PROTOCOL)
    values = {"T": T(7), "Color": Color.GREEN, "D": D(4), "X": X()}
    for name, value in values.items():
        with open(os.path.join(OUT, name + "-instance.pkl"), "wb") as stream:
            pickling.dump(value, stream, by_source, protocol=pickle.HIGHEST_PROTOCOL)
    """
)

# The consumer task: it defines again, by source, what the compiler passes by source, and nothing else.
CONSUMER = textwrap.dedent(
    """
    import json, os, pickle

    class Model:
        def __init__(self, w):
            self.w = w

    def double(x):
        return 2 * x

    def load(name):
        with open(os.path.join(OUT, name + ".pkl"), "rb") as stream:
            return pickle.load(stream)

    P = load("P")
    p = load("p")
    Color = load("Color")
    m = load("m")
    fs = load("fs")
    facts = {
        "p_is_P": isinstance(p, P),
        "new_P": repr(P(3, 4)),
        "p": repr(p),
        "m_is_Model": isinstance(m, Model),
        "m_w": m.w,
        "Model_same": load("Model") is Model,
        "double_same": load("double") is double,
        "twice_same": load("twice") is double,
        "g2": load("g2")(2),
        "f": load("f")(1),
        "fs": [h(2) for h in fs],
        "inc": load("inc")(5),
        "T": repr(load("T-instance")),
        "T_is_T": isinstance(load("T-instance"), load("T")),
        "Color": repr(load("Color-instance")),
        "Color_is": load("Color-instance") is Color.GREEN,
        "D": repr(load("D-instance")),
        "X": load("X-instance").k,
        "in_block": load("in_block")(),
    }
    print(json.dumps(facts))
    """
)


def run_main(code, out):
    """Runs code as __main__ of a fresh Python that imports the runner's package."""
    env = dict(os.environ, PYTHONPATH=RUNNER)
    prelude = "OUT = %r\nNAMES = %r\nCELLS = %r\n" % (out, NAMES, PRODUCER)
    r = subprocess.run([sys.executable, "-c", prelude + code], env=env, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return r.stdout


def globals_of(data):
    """The (module, name) pairs a pickle refers to."""
    found, memo, recent, previous = [], [], [], None
    for op, arg, _ in pickletools.genops(data):
        if op.name == "MEMOIZE":
            memo.append(previous[1] if previous and previous[0] in STRINGS else None)
        elif op.name in ("BINGET", "LONG_BINGET"):
            recent.append(memo[arg])
        elif op.name in STRINGS:
            recent.append(arg)
        elif op.name == "STACK_GLOBAL":
            found.append(tuple(recent[-2:]))
        elif op.name == "GLOBAL":
            found.append(tuple(arg.split(" ", 1)))
        if op.name != "MEMOIZE":
            previous = (op.name, arg)
    return found


STRINGS = ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE")


class AcrossProcessesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.mkdtemp(prefix="cellpipe-pickling-")
        run_main(PRODUCER + SAVE, cls.out)
        import json

        cls.facts = json.loads(run_main(CONSUMER, cls.out))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.out, ignore_errors=True)

    def read(self, name):
        with open(os.path.join(self.out, name + ".pkl"), "rb") as f:
            return f.read()

    def test_by_source_functions_and_classes_go_by_reference(self):
        for name, ref in [("Model", "Model"), ("double", "double"), ("twice", "double"), ("m", "Model")]:
            refs = globals_of(self.read(name))
            self.assertIn(("__main__", ref), refs, name)
            self.assertFalse([r for r in refs if "cloudpickle" in r[0]], name)
        self.assertTrue(self.facts["Model_same"])
        self.assertTrue(self.facts["double_same"])
        self.assertTrue(self.facts["twice_same"])
        self.assertTrue(self.facts["m_is_Model"])
        self.assertEqual(self.facts["m_w"], 3)

    def test_everything_else_of_main_goes_by_value(self):
        for name in ["P", "p", "T", "Color", "D", "X", "g2", "f", "fs", "inc", "in_block"]:
            refs = globals_of(self.read(name))
            self.assertFalse([r for r in refs if r[0] == "__main__" and r[1] != "double"], name)
            self.assertTrue([r for r in refs if r[0].startswith("cellpipe_runner._vendor.cloudpickle")], name)
        f = self.facts
        self.assertEqual((f["g2"], f["f"], f["fs"], f["inc"], f["in_block"]), (6, 2, [2, 5], 15, "block"))
        self.assertEqual((f["T"], f["Color"], f["D"], f["X"]), ("T(a=7)", "<Color.GREEN: 2>", "D(u=4)", 5))

    def test_a_class_saved_twice_by_value_is_one_class_in_the_consumer(self):
        self.assertTrue(self.facts["p_is_P"])
        self.assertEqual(self.facts["new_P"], "P(x=3, y=4)")
        self.assertEqual(self.facts["p"], "P(x=1, y=2)")
        self.assertTrue(self.facts["T_is_T"])
        self.assertTrue(self.facts["Color_is"])


class RuleTest(unittest.TestCase):
    def test_by_source_names_are_top_level_def_and_class_statements(self):
        cells = [
            "  def indented():\n    pass\n",
            "%matplotlib inline\nclass WithMagic:\n    pass\n",
            "async def co():\n    pass\nP = type('P', (), {})\nf = lambda: 1\n",
            "if True:\n    def inside():\n        pass\n",
            "def broken(:\n",
        ]
        self.assertEqual(pickling.by_source_names(cells), frozenset({"indented", "WithMagic", "co"}))

    def test_a_later_binding_that_is_not_a_definition_makes_the_name_a_value_again(self):
        cells = [
            "def f():\n    pass\ndef g():\n    pass\nclass C:\n    pass\ndef h():\n    pass\n",
            "f = functools.lru_cache(f)\nfor g in []:\n    pass\nif True:\n    class C:\n        pass\n",
            "xs = [h for h in range(3)]\nuse = lambda h: h\ndef keep():\n    h = 1\n",
            "def f():\n    pass\n",
        ]
        self.assertEqual(pickling.by_source_names(cells), frozenset({"f", "h", "keep"}))
        self.assertEqual(pickling.by_source_names(["def json():\n    pass", "import json"]), frozenset())

    def test_a_by_source_name_bound_to_another_object_goes_by_value(self):
        main = sys.modules["__main__"]
        saved = main.__dict__.get("Shadowed", None)

        class Shadowed:
            pass

        Shadowed.__module__, Shadowed.__qualname__ = "__main__", "Shadowed"
        try:
            main.Shadowed = Shadowed
            by_ref = io.BytesIO()
            pickling.dump(Shadowed, by_ref, frozenset({"Shadowed"}))
            self.assertIn(("__main__", "Shadowed"), globals_of(by_ref.getvalue()))
            main.Shadowed = object()
            by_value = io.BytesIO()
            pickling.dump(Shadowed, by_value, frozenset({"Shadowed"}))
            self.assertNotIn(("__main__", "Shadowed"), globals_of(by_value.getvalue()))
            self.assertIs(pickle.loads(by_value.getvalue()), Shadowed)  # the tracker: one class per process
        finally:
            if saved is None:
                main.__dict__.pop("Shadowed", None)
            else:
                main.Shadowed = saved

    def test_installed_modules_stay_by_reference_and_unpicklable_values_still_fail(self):
        import collections

        out = io.BytesIO()
        pickling.dump({"od": collections.OrderedDict, "dumps": pickle.dumps}, out, frozenset())
        self.assertEqual(sorted(globals_of(out.getvalue())), [("_pickle", "dumps"), ("collections", "OrderedDict")])
        with open(__file__) as f, self.assertRaisesRegex(TypeError, "cannot pickle '_io.TextIOWrapper' object"):
            pickling.dump(f, io.BytesIO(), frozenset())
        with self.assertRaisesRegex(TypeError, "cannot pickle 'generator' object"):
            pickling.dump((i for i in range(2)), io.BytesIO(), frozenset())


class FingerprintTest(unittest.TestCase):
    def test_functions_by_value_fingerprint_the_same_until_they_change(self):
        def make(k):
            return lambda x: x * k

        fs = [make(2), lambda x: x + 1]
        before = fingerprint.fingerprint(fs)
        self.assertFalse(before.startswith("unpicklable"))
        self.assertEqual(fingerprint.fingerprint(fs), before)
        self.assertEqual(fingerprint.fingerprint(list(fs)), before)
        fs.append(make(3))
        self.assertNotEqual(fingerprint.fingerprint(fs), before)


if __name__ == "__main__":
    unittest.main()
