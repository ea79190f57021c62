"""Cellpipe for JupyterLab: the prebuilt frontend extension and a server extension that proxies
``<base_url>cellpipe/api/...`` to the Cellpipe companion server (found as upstream.py says: under
JupyterHub, the Hub's Cellpipe service, with the single-user server's own token)."""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    import warnings

    warnings.warn("Importing 'cellpipe_jupyterlab' outside a proper installation.")
    __version__ = "dev"

from .handlers import setup_handlers


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "@cellpipe/jupyterlab"}]


def _jupyter_server_extension_points():
    return [{"module": "cellpipe_jupyterlab"}]


def _load_jupyter_server_extension(server_app):
    """Register the proxy handlers with the Jupyter server."""
    setup_handlers(server_app.web_app)
    server_app.log.info("cellpipe_jupyterlab: proxying %scellpipe/api/ to the Cellpipe server",
                        server_app.web_app.settings.get("base_url", "/"))
