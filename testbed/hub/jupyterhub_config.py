"""JupyterHub for Cellpipe's hub tests: a real Hub on 127.0.0.1 with the dummy authenticator,
SimpleLocalProcessSpawner (every user's JupyterLab runs as this OS user: the isolation proven is the
Hub's, tokens and scopes, not Unix users), configurable-http-proxy, Cellpipe registered as an
externally managed service, and a token-only `test-admin` service the tests drive the Hub with.
Everything comes from HUB_* variables set by hub.js; never use this for a real hub.
"""

import json
import os

env = os.environ
work = env["HUB_WORK"]
service = env.get("HUB_SERVICE_NAME", "cellpipe")
access = f"access:services!service={service}"
read_service = f"read:services!service={service}"

c = get_config()  # noqa: F821 (injected by JupyterHub's config loader)

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(env["HUB_PROXY_PORT"])
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["HUB_PORT"])
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.command = [env["HUB_CHP"]]
c.ConfigurableHTTPProxy.pid_file = f"{work}/jupyterhub-proxy.pid"
c.JupyterHub.db_url = f"sqlite:///{work}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = f"{work}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = f"{work}/jupyterhub.pid"
# Stopping the Hub stops the user servers and the proxy: one process to signal.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

users = json.loads(env["HUB_USERS"])  # {"alice": ["cellpipe", "vision"], ...}: user -> groups
admins = json.loads(env.get("HUB_ADMINS", "[]"))
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = env["HUB_PASSWORD"]
c.Authenticator.allowed_users = set(users) | set(admins)
c.Authenticator.admin_users = set(admins)
groups: dict[str, list[str]] = {}
for user, member_of in users.items():
    for g in member_of:
        groups.setdefault(g, []).append(user)
c.JupyterHub.load_groups = {g: {"users": members} for g, members in groups.items()}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = f"{work}/home/{{username}}"
c.Spawner.cmd = [env["HUB_SINGLEUSER"]]
# Tests run as root; the extra arguments are galata's when the browser tests use the servers.
c.Spawner.args = ["--allow-root", *json.loads(env.get("HUB_SPAWNER_ARGS", "[]"))]
c.Spawner.environment = json.loads(env.get("HUB_SPAWNER_ENV", "{}"))
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
# A server that lost its random port to another process dies at once, but the Hub only notices when
# this runs out: hub.js then starts it again.
c.Spawner.http_timeout = 60
# The single-user server's own token reaches the Cellpipe service (the extension's proxy and the
# CLI use it) and finds where it is (read:services); the lab page's token gets the access scope too.
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", access, read_service]
c.Spawner.oauth_client_allowed_scopes = [access]

c.JupyterHub.services = [
    {
        "name": service,
        "url": env["HUB_SERVICE_URL"],
        "api_token": env["HUB_SERVICE_TOKEN"],
        "oauth_no_confirm": True,
        "display": True,
        "timeout": 5,
    },
    {"name": "test-admin", "api_token": env["HUB_ADMIN_TOKEN"], "display": False},
]
c.JupyterHub.load_roles = [
    # Granted through a group, so a test can take it away while the Hub runs.
    {"name": "cellpipe-users", "scopes": [access, read_service], "groups": [env.get("HUB_ACCESS_GROUP", "cellpipe")]},
    {
        "name": "test-admin",
        "scopes": ["admin:users", "admin:servers", "tokens", "admin:groups", "read:hub", "read:services"],
        "services": ["test-admin"],
    },
]
