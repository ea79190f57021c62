"""What the kernel engine runs inside the kernel (imported there as ``_cellpipe_kernel``). Every
function returns JSON text, which the runner reads back from a user expression."""

import json
import sys

_STATE = {"store": None, "loaded": {}}


def _user_ns():
    from IPython import get_ipython

    return get_ipython().user_ns


def kernel_prepare(argv, file, path0, store_config):
    from .data import store_from_config

    sys.argv = list(argv)
    if file:
        _user_ns()["__file__"] = file
    if path0 is not None and path0 not in sys.path:
        sys.path.insert(0, path0)
    _STATE["store"] = store_from_config(json.loads(store_config))
    return json.dumps(True)


def kernel_load(source, name, final, keep):
    from .data import load_variable

    loaded = _STATE["loaded"] if keep else None
    return json.dumps(load_variable(_user_ns(), _STATE["store"], source, name, final, loaded))


def kernel_save(name, by_source):
    from .data import save_variable

    return json.dumps(save_variable(_user_ns(), _STATE["store"], name, frozenset(by_source)))


def kernel_measure(name, by_source):
    from .fingerprint import measure

    return json.dumps(measure(_STATE["loaded"][name], frozenset(by_source)))


def kernel_fingerprint(name, by_source):
    from .fingerprint import fingerprint

    return json.dumps(fingerprint(_STATE["loaded"][name], frozenset(by_source)))


def kernel_define(definitions_json, cell_offset):
    from .contract import Definition, from_json
    from .definitions import run_definitions

    definitions = [from_json(Definition, d) for d in json.loads(definitions_json)]
    return json.dumps(run_definitions(_user_ns(), definitions, cell_offset, lambda f: f.startswith("<cell ")))


def kernel_bind(name, value_json):
    _user_ns()[name] = json.loads(value_json)
    return json.dumps(True)
