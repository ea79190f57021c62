"""JupyterLab under test: galata's settings (no token, no XSRF, the in-page test helpers, root dir
from JUPYTERLAB_GALATA_ROOT_DIR) on the port ui-test.sh picked. Never use this for a real server."""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is injected by Jupyter's config loader)

c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.port = int(os.environ.get("CELLPIPE_UI_PORT", "8888"))  # noqa: F821
# CI machines run as root.
c.ServerApp.allow_root = True  # noqa: F821
# Nothing outside this machine is reachable in CI: no news or update checks.
c.LabApp.news_url = None  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
c.LabApp.extension_manager = "readonly"  # noqa: F821
