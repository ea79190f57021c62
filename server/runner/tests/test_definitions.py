"""Statements run again by source (cellpipe_runner/definitions.py): imports, functions, classes and
statements that set module state, in order, at their cell's lines."""

import os
import sys
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cellpipe_runner.contract import BadTask, Definition, from_json  # noqa: E402
from cellpipe_runner.definitions import in_runs, run_definitions  # noqa: E402


def definition(kind, cell, line, source, names=()):
    return Definition(kind=kind, names=list(names), cell=cell, line=line, source=source)


class DefinitionsTest(unittest.TestCase):
    def test_runs_start_at_each_state_statement(self):
        a = definition("import", 0, 1, "import sys", ["sys"])
        b = definition("class", 0, 2, "class F:\n    pass", ["F"])
        s1 = definition("state", 0, 4, "sys.path.append('x')")
        s2 = definition("state", 1, 1, "sys.path.append('y')")
        c = definition("function", 2, 1, "def f():\n    return 1", ["f"])
        self.assertEqual(in_runs([a, b, s1, s2, c]), [[a, b], [s1], [s2, c]])
        self.assertEqual(in_runs([s1, a]), [[s1, a]])
        self.assertEqual(in_runs([]), [])

    def test_a_state_statement_sets_the_state_of_this_process(self):
        namespace = {"__name__": "__main__"}
        saved = warnings.filters[:]
        try:
            problem = run_definitions(
                namespace,
                [
                    definition("import", 0, 1, "import warnings", ["warnings"]),
                    definition("state", 0, 2, 'warnings.filterwarnings("error", message="cellpipe-test")'),
                ],
                1,
                lambda f: f.startswith("<cell "),
            )
            self.assertIsNone(problem)
            with self.assertRaises(UserWarning):
                warnings.warn("cellpipe-test", stacklevel=1)
        finally:
            warnings.filters[:] = saved

    def test_a_failing_state_statement_is_named_with_its_kind_cell_and_line(self):
        problem = run_definitions(
            {"__name__": "__main__"},
            [definition("state", 2, 3, "os.chdir(nowhere)")],
            1,
            lambda f: f.startswith("<cell "),
        )
        self.assertEqual(problem["kind"], "state")
        self.assertEqual(problem["position"], 3)
        self.assertEqual(problem["ename"], "NameError")
        self.assertIn('File "<cell 3>", line 3', problem["traceback"])

    def test_a_star_import_binds_only_the_names_the_task_does_not_have(self):
        # e: an input (a later binding the compiler chose); sqrt: from the module; pi: bound by an
        # earlier definition, which the star import does not replace either.
        namespace = {"__name__": "__main__", "e": "input"}
        problem = run_definitions(
            namespace,
            [
                definition("function", 0, 1, "def pi():\n    return 3", ["pi"]),
                definition("import", 1, 1, "from math import *"),
            ],
            1,
            lambda f: f.startswith("<cell "),
        )
        self.assertIsNone(problem)
        self.assertEqual(namespace["e"], "input")
        self.assertEqual(namespace["pi"](), 3)
        self.assertEqual(namespace["sqrt"](16), 4.0)

    def test_a_failing_star_import_is_named(self):
        problem = run_definitions(
            {"__name__": "__main__"},
            [definition("import", 4, 2, "from no_such_module_here import *")],
            1,
            lambda f: f.startswith("<cell "),
        )
        self.assertEqual(problem["ename"], "ModuleNotFoundError")
        self.assertEqual(problem["position"], 5)
        self.assertEqual(problem["statement"], "from no_such_module_here import *")

    def test_the_contract_accepts_state_and_refuses_other_kinds(self):
        d = from_json(Definition, {"kind": "state", "names": [], "cell": 0, "line": 1, "source": "x.y = 1"})
        self.assertEqual(d.kind, "state")
        with self.assertRaises(BadTask) as e:
            from_json(Definition, {"kind": "effect", "names": [], "cell": 0, "line": 1, "source": "x"})
        self.assertIn("kind", str(e.exception))


if __name__ == "__main__":
    unittest.main()
