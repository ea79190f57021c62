"""IPython's history names for the stdlib engine's cells, kept as a kernel's shell keeps them (its
HistoryManager.store_inputs and DisplayHook.update_user_ns), N being the cell's execution count:

- before cell N runs: ``In[N]`` and ``_iN`` are its source, ``_i`` / ``_ii`` / ``_iii`` the sources of
  the three cells before it (``_ih`` is ``In``);
- when cell N shows a value: ``Out[N]`` and ``_N`` are that value, ``_`` / ``__`` / ``___`` the last three
  shown (``_oh`` is ``Out``), unless the cells bound one of ``_``, ``__``, ``___`` themselves.
"""


class History(object):
    __slots__ = ("_ns", "_inputs", "_unders")

    def __init__(self, namespace):
        self._ns = namespace
        # _i00 (the running cell), _i, _ii, _iii: as IPython shifts them.
        self._inputs = ["", "", "", ""]
        # The values this history last gave _, __ and ___: another value there is the user's.
        self._unders = ["", "", ""]
        inputs, outputs = [""], {}
        namespace.update(In=inputs, _ih=inputs, Out=outputs, _oh=outputs, _="", __="", ___="")
        namespace.update(_i="", _ii="", _iii="")

    def store_input(self, count, source):
        ns = self._ns
        inputs = ns.get("_ih")
        if isinstance(inputs, list):
            inputs.extend([""] * (count - len(inputs)))  # the injected parameters take a count too
            inputs.append(source)
        i00, i, ii, _iii = self._inputs
        self._inputs = [source, i00, i, ii]
        ns.update({"_i": i00, "_ii": i, "_iii": ii, "_i%d" % count: source})

    def store_output(self, count, value):
        ns = self._ns
        outputs = ns.get("_oh")
        if value is outputs:  # IPython's own guard: Out showing itself does not go into Out
            return
        mine = all(ns.get(name, under) is under for name, under in zip(("_", "__", "___"), self._unders))
        self._unders = [value] + self._unders[:2]
        if mine:
            ns.update(zip(("_", "__", "___"), self._unders))
        ns["_%d" % count] = value
        if isinstance(outputs, dict):
            outputs[count] = value
