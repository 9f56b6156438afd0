"""A class on one JupyterHub, end to end, as deploy/hub sets it up.

The hub runs deploy/hub/jupyterhub_config.py with only what a test must change overridden
(a dummy authenticator, free ports on 127.0.0.1, temporary paths). One instructor and four
students are real Unix users; everything they do runs in a terminal of their own
single-user server, spawned by the hub, so as them and with the environment the hub gives
(its API token included). The instructor releases, the students fetch, answer and submit,
the instructor collects, autogrades and returns feedback, and every score is checked
exactly. Then the attacks: a submission that reads /proc and a file of the instructor's,
students reading each other's work and the solutions, and a grade run on a machine
without user namespaces.
"""

import contextlib
import html
import json
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import requests
import websocket

from losslandscape.data import ENV_VAR, bundled_path

from .fixture_submissions import (
    ALL_ZERO,
    CASES,
    FULL_MARKS,
    REFERENCE,
    TOTAL,
    Case,
    _each_rule,
)
from .landscape_submissions import CASES as LANDSCAPE_CASES
from .landscape_submissions import TOTAL as LANDSCAPE_TOTAL
from .landscape_submissions import expected_points as landscape_expected
from .test_grading_pipeline import ASSIGNMENT, scores

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "deploy" / "hub"
COURSE_ID = "optimizers-course"  # the course's nbgrader_config.py
WITHOUT_USERNS = ROOT / "tests" / "without_user_namespaces.py"
STUDENT_ONLY_OFF = ("formgrader", "course-list", "create-assignment")  # lab extensions


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The grader keeps 500 characters of an error's text, so the attack sends the most wanted
# first: the variables and files a secret would be in, then a marker, then the rest.
ATTACK = """import glob, os
wanted, rest = [], []
for path in glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline"):
    try:
        words = open(path, "rb").read().decode("latin-1").split("\\0")
    except OSError:
        continue
    for word in words:
        if word and not word.startswith(("PATH=", "LANG=")):
            hit = any(key in word.upper() for key in ("TOKEN", "CANARY", "SECRET"))
            (wanted if hit else rest).append(word)
try:
    wanted.append("canary file=" + open({canary_file!r}).read())
except OSError as error:
    wanted.append("canary file: " + error.strerror)
for link in glob.glob("/proc/*/fd/*"):
    try:
        target = os.readlink(link)
    except OSError:
        continue
    (wanted if target.startswith({home!r}) else rest).append(target)
rest += [line.split(" ")[1] for line in open("/proc/self/mounts").read().splitlines()]
raise RuntimeError(" | ".join(["STOLEN", *wanted, "STOLEN-END", *rest]))
"""


class Hub:
    """The hub's REST API and its users' servers, driven with a service token."""

    def __init__(self, url: str, token: str):
        self.url, self.headers = url, {"Authorization": f"token {token}"}
        self.http = requests.Session()
        self.terminals: list[Terminal] = []

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(
            method, f"{self.url}/hub/api{path}", headers=self.headers, timeout=60, **kwargs
        )

    def start(self, user: str) -> None:
        response = self.api("POST", f"/users/{user}/server")
        assert response.status_code in (201, 202), response.text
        for _ in range(600):
            server = self.api("GET", f"/users/{user}").json()["servers"].get("", {})
            if server.get("ready"):
                return
            time.sleep(0.2)
        raise AssertionError(f"{user}'s server did not start")

    def server(self, user: str, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(
            method, f"{self.url}/user/{user}/{path}", headers=self.headers, timeout=60, **kwargs
        )

    def terminal(self, user: str) -> "Terminal":
        response = self.server(user, "POST", "api/terminals")
        assert response.status_code == 200, response.text
        name = response.json()["name"]
        ws_url = self.url.replace("http", "ws", 1) + f"/user/{user}/terminals/websocket/{name}"
        terminal = Terminal(websocket.create_connection(ws_url, header=self.headers, timeout=600))
        self.terminals.append(terminal)
        return terminal

    def close(self) -> None:
        for terminal in self.terminals:
            terminal.ws.close()
        self.http.close()


class Terminal:
    """A shell in a Jupyter terminal: each command's output and exit status."""

    def __init__(self, ws):
        self.ws = ws
        self.run("stty -echo; export PS1= PS2= TERM=dumb")

    def run(self, command: str, timeout: float = 600) -> tuple[int, str]:
        end = secrets.token_hex(4)
        # the format splits the marker, so only printf's output matches it
        self.ws.send(json.dumps(["stdin", f"{command} 2>&1; printf 'END%s %s\\n' {end} $?\r"]))
        output, deadline = "", time.monotonic() + timeout
        while (found := re.search(rf"END{end} (\d+)", output)) is None:
            assert time.monotonic() < deadline, f"{command!r} did not finish: {output[-3000:]}"
            message = json.loads(self.ws.recv())
            if message[0] == "stdout":
                output += message[1]
        return int(found.group(1)), output[: found.start()].replace("\r\n", "\n")

    def ok(self, command: str, timeout: float = 600) -> str:
        status, output = self.run(command, timeout)
        assert status == 0, f"{command!r} exited {status}:\n{output[-5000:]}"
        return output


def hub_config(folder: Path, ports: dict, users: dict, token: str, canary: str) -> Path:
    """The deploy configuration, with only what a test must change."""
    path = folder / "jupyterhub_config.py"
    path.write_text(f"""
c = get_config()
load_subconfig({str(HUB / "jupyterhub_config.py")!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{ports["proxy"]}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{ports["hub"]}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["api"]}"
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = "{folder}/proxy.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {set(users["all"])!r}
c.JupyterHub.load_groups = {{"instructors": {{"users": [{users["instructor"]!r}]}}}}
c.Spawner.environment = {{
    **c.Spawner.environment,
    # the exchange and course id, in place of /etc/jupyter's
    "JUPYTER_CONFIG_PATH": "{folder.parent / "jupyter"}",
    {ENV_VAR!r}: {str(bundled_path())!r},  # as every test's process computes
}}
deploy_hook = c.Spawner.pre_spawn_hook


def plant_canary(spawner):
    deploy_hook(spawner)
    if spawner.user.name == {users["instructor"]!r}:
        spawner.environment = {{**spawner.environment, "LL_CANARY": {canary!r}}}


c.Spawner.pre_spawn_hook = plant_canary
c.JupyterHub.services = [{{"name": "driver", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{
    "name": "driver",
    "scopes": ["admin:users", "admin:servers", "access:servers"],
    "services": ["driver"],
}}]
""")
    return path


@pytest.fixture(scope="module")
def hub_setup(shared_env, unix_user):
    """The hub running as root from a minimal environment, and its users; everything the
    hub started is ended afterwards, however the test ends."""
    if not (HUB / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        if shutil.which("npm") is None:
            pytest.fail("npm is missing (for the hub's proxy): apt-get install nodejs npm")
        # as deploy/hub/install installs it
        subprocess.run(["npm", "ci", "--omit=dev", "--no-audit", "--no-fund"], cwd=HUB, check=True)
    instructor = unix_user("llinst")
    students = [unix_user("llstud") for _ in range(4)]
    top = Path(tempfile.mkdtemp(prefix="llhub-"))
    top.chmod(0o755)
    state = top / "hub"
    state.mkdir(mode=0o700)
    exchange = top / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)  # nbgrader's documented `chmod ugo+rw` on a fresh folder
    (top / "jupyter").mkdir(mode=0o755)
    (top / "jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(exchange)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
    )
    (top / "jupyter" / "nbgrader_config.py").chmod(0o644)
    ports = {name: free_port() for name in ("proxy", "hub", "api")}
    token, canary = secrets.token_hex(16), f"CANARY-{secrets.token_hex(12)}"
    names = {"instructor": instructor.name, "all": [u.name for u in (instructor, *students)]}
    config = hub_config(state, ports, names, token, canary)
    log = (state / "hub.log").open("w")
    process = subprocess.Popen(
        # setpriv: the hub gets SIGTERM (and stops its servers) if pytest is killed
        ["setpriv", "--pdeathsig", "TERM", "--", shared_env / "bin" / "jupyterhub", "-f", config],
        cwd=state,
        # as the systemd unit starts it: the deploy config reads LOSSLANDSCAPE_ENV
        env={
            "PATH": f"{shared_env}/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LOSSLANDSCAPE_ENV": str(shared_env),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = psutil.Process(process.pid)
    hub = Hub(f"http://127.0.0.1:{ports['proxy']}", token)
    try:
        for _ in range(300):
            assert process.poll() is None, (state / "hub.log").read_text()[-5000:]
            try:
                if hub.api("GET", "/").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError((state / "hub.log").read_text()[-5000:])
        yield {
            "hub": hub,
            "instructor": instructor,
            "students": students,
            "exchange": exchange,
            "canary": canary,
            "log": state / "hub.log",
        }
    finally:
        hub.close()
        children = started.children(recursive=True)
        process.send_signal(signal.SIGTERM)  # the hub stops the servers it spawned
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        log.close()
        shutil.rmtree(top, ignore_errors=True)


WALK = """
import json, os, sys
roots, secrets = json.loads(sys.stdin.read())
found, read = [], 0
for root in roots:
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as file:
                    data = file.read()
            except OSError:
                continue
            read += 1
            found += [[path, s] for s in secrets if s.encode() in data]
print(json.dumps({"found": found, "read": read}))
"""


def lab_disabled(hub: Hub, user: str) -> set:
    """The nbgrader lab extensions the user's JupyterLab page is told to leave out."""
    page = hub.server(user, "GET", "lab")
    assert page.status_code == 200, page.text[-2000:]
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page.text, re.S)  # fmt: skip
    disabled = json.loads(found[1])["disabledExtensions"]
    return {e.split(":", 1)[1] for e in disabled if e.startswith("@jupyter/nbgrader:")}


def readable_by(user: str, roots: list, secrets_: list) -> dict:
    """What ``user`` can read under ``roots`` that holds any of ``secrets_``."""
    result = subprocess.run(
        ["runuser", "-u", user, "--", "/usr/bin/python3", "-c", WALK],
        input=json.dumps([[str(r) for r in roots], secrets_]),
        capture_output=True,
        text=True,
        timeout=300,
        cwd="/",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_class_on_one_hub(hub_setup):
    hub = hub_setup["hub"]
    inst, students = hub_setup["instructor"], hub_setup["students"]
    exchange, canary = hub_setup["exchange"], hub_setup["canary"]
    course = inst.home / "course"
    canary_file = inst.home / "canary.txt"
    # one full-marks, one named mistake, one broken, one attacker
    attack = Case(
        _each_rule(ATTACK.format(canary_file=str(canary_file), home=str(inst.home))), ALL_ZERO
    )
    cases = {
        students[0].name: CASES["reference"],
        students[1].name: CASES["adam_without_bias_correction"],
        students[2].name: CASES["raises"],
        students[3].name: attack,
    }
    marks = {s.name: f"MARK-{s.name}-{secrets.token_hex(6)}" for s in students}

    # the instructor: a server with the formgrader, the course cloned into their home
    hub.start(inst.name)
    teacher = hub.terminal(inst.name)
    environment = teacher.ok('printf "%s|%s|%s|" "$LOSSLANDSCAPE_ENV" "$LL_CANARY" "$(id -un)"')
    assert environment.strip().endswith(f"|{canary}|{inst.name}|"), environment
    api_token = re.search(r"TOKEN=(\S+)", teacher.ok('echo "TOKEN=$JUPYTERHUB_API_TOKEN"'))[1]
    assert len(api_token) >= 16
    assert teacher.ok("command -v nbgrader").strip().startswith(environment.split("|")[0])
    teacher.ok(f"echo {canary} > ~/canary.txt && chmod 600 ~/canary.txt")
    teacher.ok(
        f"mkdir ~/course && cp -r {ROOT}/nbgrader_config.py {ROOT}/_config.yml "
        f"{ROOT}/solutions {ROOT}/assignments ~/course/"
    )
    teacher.ok(  # the formgrader's course ("One Class, One Grader")
        "mkdir -p ~/.jupyter && echo \"c.CourseDirectory.root = '$HOME/course'\" "
        "> ~/.jupyter/nbgrader_config.py"
    )
    assert hub.server(inst.name, "GET", "formgrader").status_code == 200
    assert hub.server(inst.name, "GET", "formgraders").status_code == 200  # the course list
    assert lab_disabled(hub, inst.name) == set()
    teacher.ok(f"cd ~/course && nbgrader generate_assignment {ASSIGNMENT} --force")
    teacher.ok(f"cd ~/course && nbgrader release_assignment {ASSIGNMENT}")

    # the students fetch, answer in their own server and submit
    shells = {}
    for student in students:
        hub.start(student.name)
        # nbgrader's table for students: no formgrader, course list or create-assignment
        assert hub.server(student.name, "GET", "formgrader").status_code == 404
        assert hub.server(student.name, "GET", "formgraders").status_code == 404
        assert lab_disabled(hub, student.name) == set(STUDENT_ONLY_OFF)
        shell = shells[student.name] = hub.terminal(student.name)
        assert shell.ok("id -un").strip() == student.name
        shell.ok(f"cd ~ && nbgrader fetch_assignment {ASSIGNMENT}")
        path = f"api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        model = hub.server(student.name, "GET", path).json()
        answers = {**REFERENCE, **cases[student.name].answers}
        for cell in model["content"]["cells"]:
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell["source"] = answers[grade_id]
                if grade_id == "sgd_step":
                    cell["source"] += f"\n# {marks[student.name]}\n"
        saved = hub.server(
            student.name,
            "PUT",
            path,
            json={"type": "notebook", "format": "json", "content": model["content"]},
        )
        assert saved.status_code == 200, saved.text
        shell.ok(f"cd ~ && nbgrader submit {ASSIGNMENT}")

    # the instructor collects, grades and returns feedback
    teacher.ok(f"cd ~/course && nbgrader collect {ASSIGNMENT}")
    graded = teacher.ok(f"cd ~/course && nbgrader autograde {ASSIGNMENT}")
    assert len(re.findall(rf"graded \S+: [\d.]+ of {TOTAL:g} points", graded)) == 4, graded
    expected = {name: {**FULL_MARKS, **case.points} for name, case in cases.items()}
    assert scores(course) == expected
    teacher.ok(f"cd ~/course && nbgrader generate_feedback {ASSIGNMENT}")
    teacher.ok(f"cd ~/course && nbgrader release_feedback {ASSIGNMENT}")
    for student in students:
        shells[student.name].ok(f"cd ~ && nbgrader fetch_feedback {ASSIGNMENT}")
        pages = list((student.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
        assert len(pages) == 1, pages
        total = sum(expected[student.name].values())
        assert re.search(rf"Score: {total:g}(\.0)? / {TOTAL:g}", pages[0].read_text()), student.name
        assert pages[0].stat().st_uid == student.uid

    # (a) what the attacker read leaves no secret anywhere a student can read
    secrets_ = [canary, api_token, *marks.values(), "BEGIN HIDDEN TESTS", "BEGIN SOLUTION"]
    roots = [exchange, *(s.home for s in students)]
    for student in students:
        seen = readable_by(student.name, roots, secrets_)
        # the walk finds a secret where one is: the student's own mark, in their home
        assert [student.home / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", marks[student.name]] in [
            [Path(path), secret] for path, secret in seen["found"]
        ], seen
        leaks = [
            (path, secret)
            for path, secret in seen["found"]
            if not (secret == marks[student.name] and path.startswith(f"{student.home}/"))
        ]
        assert leaks == [], (student.name, leaks)
    attacker = students[3]
    feedback = next((attacker.home / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html"))
    assert canary not in feedback.read_text() and api_token not in feedback.read_text()
    # the attack did run, and what it read reached the attacker: a secret it could read
    # would have been in their feedback, where the walk above looks
    graded_attack = course / "autograded" / attacker.name / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert "STOLEN" in graded_attack.read_text()
    # (the error as shown: the attack's code, shown too, spells the marker otherwise)
    shown = " ".join(html.unescape(feedback.read_text()).split())
    report = re.search(r"STOLEN \| (.*?) \| STOLEN-END", shown)
    assert report and "canary file" in report[1], "the attack's report is not in the feedback"

    # (b) students reading each other's work and the solutions, as themselves
    thief, victim = shells[students[1].name], students[0]
    inbound = exchange / COURSE_ID / "inbound"
    attempts = [
        f"ls {inbound}",
        f"cat {inbound}/{victim.name}+*/{ASSIGNMENT}.ipynb",
        f"cat {victim.home}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
        f"cat {course}/solutions/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
        f"cat {course}/submitted/{victim.name}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
        f"sqlite3 {course}/gradebook.db .dump || cat {course}/gradebook.db",
        f"cat {exchange}/{COURSE_ID}/feedback/*",
    ]
    for attempt in attempts:
        status, output = thief.run(attempt)
        assert status != 0, (attempt, output)
        assert marks[victim.name] not in output and "BEGIN HIDDEN TESTS" not in output
    listed = thief.ok(f"cd ~ && nbgrader list --inbound {ASSIGNMENT}")
    assert marks[victim.name] not in listed and victim.name not in listed, listed

    # (c) no user namespaces: autograde stops, says why, and changes no grade
    teacher.ok("unshare --user true")  # the instructor may make one...
    status, output = teacher.run(f"python {WITHOUT_USERNS} unshare --user true")
    assert status != 0 and "Operation not permitted" in output, output  # ...but not here
    before = scores(course)
    status, output = teacher.run(
        f"cd ~/course && python {WITHOUT_USERNS} nbgrader autograde {ASSIGNMENT} --force"
    )
    assert status != 0, output
    assert "the sandbox cannot start on this machine" in output, output[-3000:]
    assert "needs unprivileged user namespaces" in output, output[-3000:]
    assert "No grade was changed" in output, output[-3000:]
    assert scores(course) == before == expected

    # (d) the second assignment in the same course: answers that call the answers above
    # them, and the map's speed timed in the sandbox, all as the instructor's user
    landscape = "landscape"
    teacher.ok(f"cd ~/course && nbgrader generate_assignment {landscape} --force")
    teacher.ok(f"cd ~/course && nbgrader release_assignment {landscape}")
    landscape_cases = {
        students[0].name: LANDSCAPE_CASES["scipy_helpers"],
        students[1].name: LANDSCAPE_CASES["gradient_original_factor"],
    }
    for name, case in landscape_cases.items():
        shells[name].ok(f"cd ~ && nbgrader fetch_assignment {landscape}")
        path = f"api/contents/{landscape}/{landscape}.ipynb"
        model = hub.server(name, "GET", path).json()
        answers = case.answer_cells()
        for cell in model["content"]["cells"]:
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell["source"] = answers[grade_id]
        content = {"type": "notebook", "format": "json", "content": model["content"]}
        assert hub.server(name, "PUT", path, json=content).status_code == 200
        shells[name].ok(f"cd ~ && nbgrader submit {landscape}")
    teacher.ok(f"cd ~/course && nbgrader collect {landscape}")
    graded = teacher.ok(f"cd ~/course && nbgrader autograde {landscape}")
    assert len(re.findall(rf"graded \S+: [\d.]+ of {LANDSCAPE_TOTAL:g} points", graded)) == 2
    assert landscape_scores(course) == {
        name: sum(landscape_expected(case).values()) for name, case in landscape_cases.items()
    }
    teacher.ok(f"cd ~/course && python -m losslandscape.grading.report {landscape}")
    rows = (course / "reports" / landscape / "mistakes.csv").read_text()
    assert f"{students[1].name},gradient,0,4,gradient-original-factor," in rows, rows
    teacher.ok(
        f"cd ~/course && python -m losslandscape.grading.report {ASSIGNMENT} {landscape} --canvas"
    )
    header = (course / "course_canvas.csv").read_text().splitlines()[0]
    assert header.endswith(f",{ASSIGNMENT},{landscape}"), header


def landscape_scores(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {
            submission.student.id: submission.score
            for submission in gradebook.find_assignment("landscape").submissions
        }
