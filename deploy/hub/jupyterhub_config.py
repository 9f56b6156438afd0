"""JupyterHub for one class on one server (deploy/hub/README.md).

Users are the server's Unix users (PAM); each gets their own single-user server, started
as that user from the shared environment (deploy/hub/install-env), which
``LOSSLANDSCAPE_ENV`` in the hub's environment names (the systemd unit sets it). Instructors
are the members of the Unix group ``optimizers-instructors``, students of
``optimizers-students``; only instructors get nbgrader's formgrader ("One Class, One
Grader" in nbgrader's docs: each instructor grades from the course folder in their own
home), and students get the extensions nbgrader's docs give students.

Tests load this file and override only what a test must (authenticator, ports, paths):
tests/test_hub.py.
"""

import grp
import os
from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

HERE = Path(__file__).resolve().parent
ENV = Path(os.environ.get("LOSSLANDSCAPE_ENV", "/opt/losslandscape/env"))
STATE = Path("/srv/jupyterhub")  # the hub's database and cookie secret, root's only
INSTRUCTORS = "optimizers-instructors"
STUDENTS = "optimizers-students"
# page_config.json as `jupyter labextension disable/lock` writes it: students' JupyterLab
# shows no formgrader, course list or create-assignment (nbgrader's docs, "One Class,
# Multiple Graders", the table of extensions).
STUDENT_CONFIG = HERE / "students"


def members(group: str) -> list[str]:
    """The Unix group's supplementary members (add them with ``usermod -aG``)."""
    try:
        return sorted(grp.getgrnam(group).gr_mem)
    except KeyError:
        return []


c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")

c.JupyterHub.authenticator_class = "pam"
c.LocalAuthenticator.allowed_groups = {INSTRUCTORS, STUDENTS}
# Read when the hub starts: restart it after adding an instructor.
c.JupyterHub.load_groups = {"instructors": {"users": members(INSTRUCTORS)}}

c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(ENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    # make autograde etc. use the shared environment instead of building a .venv
    "LOSSLANDSCAPE_ENV": str(ENV),
    # nbgrader calls alembic, and terminals should find nbgrader and make's tools
    "PATH": f"{ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
}
# A login shell would reset PATH from /etc/profile and lose the environment's bin.
TERMINALS = "--ServerApp.terminado_settings={'shell_command': ['/bin/bash']}"
# On the command line, so a student's own ~/.jupyter cannot turn them back on.
STUDENT_SERVER = (
    "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': False,"
    " 'nbgrader.server_extensions.course_list': False}"
)


def is_instructor(spawner) -> bool:
    return any(group.name == "instructors" for group in spawner.user.groups)


def per_role(spawner) -> None:
    """Students get no formgrader: it would show them nothing, and they need not try."""
    if is_instructor(spawner):
        spawner.args = [TERMINALS]
        return
    spawner.args = [TERMINALS, STUDENT_SERVER]
    # the spawner is kept between spawns: add the folder once
    paths = spawner.environment.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep)
    paths = [str(STUDENT_CONFIG), *(p for p in paths if p and p != str(STUDENT_CONFIG))]
    spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": os.pathsep.join(paths)}


c.Spawner.pre_spawn_hook = per_role
