"""Each user's JupyterLab in the hub tests: galata's in-page helpers and its test settings (no XSRF
check, so galata's file helpers work through the Hub's cookie), nothing fetched from outside.
The Hub still authenticates every request; never use this for a real hub."""

from pathlib import Path
from tempfile import mkdtemp

import jupyterlab.galata

c.LabServerApp.extra_labextensions_path = str(Path(jupyterlab.galata.__file__).parent)  # noqa: F821
c.LabApp.expose_app_in_browser = True  # noqa: F821
c.LabApp.workspaces_dir = mkdtemp(prefix="galata-workspaces-")  # noqa: F821
c.ServerApp.disable_check_xsrf = True  # noqa: F821
c.LabApp.news_url = None  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
c.LabApp.extension_manager = "readonly"  # noqa: F821
