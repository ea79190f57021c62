"""Rich output: the MIME bundle Jupyter would show for a value (execute_result / display_data)."""


def mime_bundle(obj):
    """text/plain plus whatever the object's _repr_*_ methods give."""
    data = {"text/plain": plain_repr(obj)}
    if isinstance(obj, type):
        return data  # _repr_html_ on a class is an unbound function
    for method, mime in (
        ("_repr_html_", "text/html"),
        ("_repr_markdown_", "text/markdown"),
        ("_repr_latex_", "text/latex"),
        ("_repr_svg_", "image/svg+xml"),
        ("_repr_json_", "application/json"),
        ("_repr_png_", "image/png"),
        ("_repr_jpeg_", "image/jpeg"),
    ):
        fn = getattr(obj, method, None)
        if not callable(fn):
            continue
        try:
            value = fn()
        except Exception:
            continue
        if isinstance(value, tuple):  # (data, metadata)
            value = value[0] if value else None
        if value is None:
            continue
        if isinstance(value, bytes):
            import base64

            value = base64.b64encode(value).decode("ascii")
        elif mime != "application/json" and not isinstance(value, str):
            continue
        data[mime] = value
    return data


def plain_repr(obj):
    """What Jupyter shows as text/plain: IPython's pretty printer (see pretty.py)."""
    from .pretty import pretty

    try:
        return pretty(obj)
    except Exception as e:
        return "<repr of %s failed: %s: %s>" % (type_name(obj), type(e).__name__, e)


def type_name(obj):
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in (None, "builtins") else "%s.%s" % (module, name)


def silenced(source, node):
    """True when the cell's last expression ends with ';' (Jupyter then shows no result)."""
    end_line = getattr(node, "end_lineno", None)
    end_col = getattr(node, "end_col_offset", None)
    if end_line is None or end_col is None:
        return False
    lines = source.split("\n")
    if end_line > len(lines):
        return False
    rest = lines[end_line - 1].encode("utf-8")[end_col:].decode("utf-8", "replace")
    return rest.lstrip().startswith(";")
