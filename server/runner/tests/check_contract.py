"""Checks the runner's dataclass mirror (cellpipe_runner/contract.py) against the JSON Schema generated
from schema/src/runner-contract.ts: the same fields, types, optionality and allowed values.

    python3 server/runner/tests/check_contract.py runner-contract.schema.json

Prints one line per disagreement and exits 1 when there is any (server/test/runner-contract.test.ts
runs it).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cellpipe_runner import contract  # noqa: E402

JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}


def split_null(node):
    """(node without null, nullable)."""
    if "anyOf" in node:
        rest = [n for n in node["anyOf"] if n.get("type") != "null"]
        if len(rest) == 1 and len(rest) < len(node["anyOf"]):
            return rest[0], True
    if isinstance(node.get("type"), list) and "null" in node["type"]:
        types = [t for t in node["type"] if t != "null"]
        return dict(node, type=types[0] if len(types) == 1 else types), True
    return node, False


def compare_type(ann, node, path, problems, choices=None):
    if ann[0] == "nullable":
        ann = ann[1]
    node, _ = split_null(node)
    kind = ann[0]
    if kind == "any":
        if "type" in node:
            problems.append("%s: the dataclass takes any JSON value, the schema says %s" % (path, node["type"]))
        return
    if kind in JSON_TYPES:
        want = JSON_TYPES[kind]
        if node.get("type") != want:
            problems.append("%s: the dataclass says %s, the schema says %s" % (path, want, node.get("type")))
        enum = node.get("enum")
        if enum is not None or choices:
            if set(enum or ()) != set(choices or ()):
                problems.append(
                    "%s: allowed values differ: dataclass %s, schema %s"
                    % (path, sorted(choices or ()), sorted(enum or ()))
                )
        return
    if kind == "list":
        if node.get("type") != "array":
            problems.append("%s: the dataclass says array, the schema says %s" % (path, node.get("type")))
            return
        compare_type(ann[1], node.get("items", {}), path + "[]", problems)
        return
    if kind == "dict":
        if node.get("type") != "object" or "properties" in node:
            problems.append("%s: the dataclass says a map, the schema says %s" % (path, node.get("type")))
            return
        compare_type(ann[1], node.get("additionalProperties", {}), path + "{}", problems)
        return
    if kind == "class":
        compare_class(contract.CLASSES[ann[1]], node, path, problems)
        return
    problems.append("%s: unknown annotation %r" % (path, ann))


def compare_class(cls, node, path, problems):
    node, _ = split_null(node)
    if node.get("type") != "object" or "properties" not in node:
        problems.append(
            "%s: the dataclass %s is an object, the schema says %s" % (path, cls.__name__, node.get("type"))
        )
        return
    properties = node["properties"]
    required = set(node.get("required", ()))
    ours = {}
    for f, key, ann, is_required in contract._fields_of(cls):
        ours[key] = (f, ann, is_required)
    for key in sorted(set(properties) - set(ours)):
        problems.append("%s.%s: in the schema, not in the dataclass %s" % (path, key, cls.__name__))
    for key in sorted(set(ours) - set(properties)):
        problems.append("%s.%s: in the dataclass %s, not in the schema" % (path, key, cls.__name__))
    for key in sorted(set(ours) & set(properties)):
        f, ann, is_required = ours[key]
        at = "%s.%s" % (path, key)
        prop = properties[key]
        _, nullable = split_null(prop)
        if is_required != (key in required):
            problems.append(
                "%s: %s in the dataclass, %s in the schema"
                % (at, "required" if is_required else "optional", "required" if key in required else "optional")
            )
        if ann[0] == "nullable":
            if is_required and not nullable:
                problems.append("%s: may be null in the dataclass, not in the schema" % at)
        elif nullable:
            problems.append("%s: may be null in the schema, not in the dataclass" % at)
        compare_type(ann, prop, at, problems, f.metadata.get("choices"))


def main(argv):
    with open(argv[1]) as f:
        schema = json.load(f)
    problems = []
    compare_class(contract.Task, schema["$defs"]["TaskJson"], "TaskJson", problems)
    compare_class(contract.Result, schema["$defs"]["RunnerResult"], "RunnerResult", problems)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
