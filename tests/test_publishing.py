"""Publishing: the Pages workflow, Binder's environment and the chapters' launch buttons.

The workflow is checked by actionlint (the real binary, installed from requirements.txt) and
read for what it must do; Binder's files are run or resolved as repo2docker would; the
launch buttons are read from the built book in the browser (see ``tests/browser.py``).
"""

import ast
import json
import re
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from losslandscape.data import bundled_path
from tests.browser import ROOT, Page

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
BINDER = ROOT / "binder"
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
ACTIONLINT = Path(sys.executable).with_name("actionlint")
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPOSITORY = CONFIG["repository"]
INSTALL_URL = re.compile(r"losslandscape @ git\+(\S+?)\"")


def actionlint(path: Path) -> subprocess.CompletedProcess:
    # -no-color keeps the report plain; shellcheck and pyflakes join in only where installed.
    return subprocess.run(
        [ACTIONLINT, "-no-color", str(path)], capture_output=True, text=True, timeout=60
    )


def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as true
    return data


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").split("@")[0] == action]


# --- the workflow ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["book.yml", "test.yml"])
def test_actionlint_finds_nothing_in_the_workflow(name):
    result = actionlint(WORKFLOW.with_name(name))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        (
            "    runs-on: ubuntu-latest\n",
            "    runs_on: ubuntu-latest\n",
            'unexpected key "runs_on"',
        ),
        (
            "          path: _build/html",
            "          paht: _build/html",
            'input "paht" is not defined',
        ),
        ("actions/checkout@v7", "actions/checkout@v2", '"actions/checkout@v2" action is retired'),
        (
            "${{ steps.deployment.outputs.page_url }}",
            "${{ steps.deploy.outputs.page_url }}",
            'property "deploy" is not defined',
        ),
    ],
    ids=["typo-in-a-key", "typo-in-an-input", "retired-action", "unknown-step"],
)
def test_actionlint_reports_a_broken_copy_of_the_workflow(tmp_path, old, new, reported):
    text = WORKFLOW.read_text()
    assert old in text
    broken = tmp_path / "book.yml"
    broken.write_text(text.replace(old, new, 1))
    result = actionlint(broken)
    assert result.returncode == 1 and reported in result.stdout, result.stdout + result.stderr


def test_workflow_runs_on_every_push_to_main_and_by_hand():
    on = workflow()["on"]
    assert on["push"] == {"branches": ["main"]}
    assert "workflow_dispatch" in on


def test_workflow_builds_the_book_with_make_book_on_a_supported_python():
    build = workflow()["jobs"]["build"]
    runs = [s.get("run", "").strip() for s in build["steps"]]
    assert "make book" in runs
    (setup,) = steps_using(build, "actions/setup-python")
    version = tuple(map(int, setup["with"]["python-version"].split(".")))
    assert (3, 11) <= version < (3, 14)  # the Makefile's and pyproject's range
    assert build["steps"].index(setup) < runs.index("make book")
    assert any(s.get("uses", "").startswith("actions/checkout@") for s in build["steps"])


def test_workflow_builds_on_the_bundled_images_the_book_says_it_is_built_on():
    env = workflow()["jobs"]["build"]["env"]["LOSSLANDSCAPE_MNIST"]
    path = Path(env.replace("${{ github.workspace }}", str(ROOT)))
    assert path.resolve() == bundled_path().resolve()


def test_workflow_uploads_what_make_book_writes_and_deploys_it_to_pages():
    data = workflow()
    build, deploy = data["jobs"]["build"], data["jobs"]["deploy"]
    runs = [s.get("run", "").strip() for s in build["steps"]]
    (upload,) = steps_using(build, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "_build/html"
    assert runs.index("make book") < build["steps"].index(upload)
    # make book builds into jupyter-book's default folder, _build/html.
    recipe = (ROOT / "Makefile").read_text().split("\nbook:", 1)[1].split("\n\n", 1)[0]
    assert "jupyter-book build ." in recipe and "--path-output" not in recipe
    assert steps_using(build, "actions/configure-pages")
    (deployment,) = steps_using(deploy, "actions/deploy-pages")
    assert deploy["needs"] == "build"
    assert deploy["environment"] == {
        "name": "github-pages",
        "url": f"${{{{ steps.{deployment['id']}.outputs.page_url }}}}",
    }
    assert data["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert data["concurrency"]["group"] == "pages"


# --- Binder ----------------------------------------------------------------------------


def test_binder_installs_exactly_the_pinned_requirements(tmp_path):
    # repo2docker runs pip on binder/requirements.txt; resolve it as pip does, from elsewhere.
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed"),
            *("--no-deps", "--quiet", "--only-binary=:all:", "--report", str(report)),
            *("-r", str(BINDER / "requirements.txt")),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    installed = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    pinned = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        pinned[canonicalize_name(requirement.name)] = specifier.version
    assert installed == pinned


def test_binder_runs_a_supported_python():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.1[123]", runtime), runtime


def test_binder_postbuild_installs_the_library_from_the_repository(tmp_path):
    postbuild = BINDER / "postBuild"
    assert postbuild.stat().st_mode & 0o111, "repo2docker runs postBuild only when executable"
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # repo2docker runs it from the repository's root with its environment's python on PATH.
    result = subprocess.run(
        [postbuild], cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    found = subprocess.run(
        [python, "-c", "import importlib.util; print(importlib.util.find_spec('losslandscape').origin)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert Path(found.stdout.strip()) == ROOT / "src" / "losslandscape" / "__init__.py"


# --- the chapters' install cell and the launch buttons ------------------------------------


def test_the_repository_url_is_set_for_the_launch_buttons():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", REPOSITORY["url"])
    assert REPOSITORY["branch"] == "main"
    buttons = CONFIG["launch_buttons"]
    assert buttons["binderhub_url"] and buttons["colab_url"]


def test_every_chapter_installs_the_library_from_the_configured_repository():
    assert CHAPTERS
    disagree = {}
    for chapter in CHAPTERS:
        cell = nbformat.read(chapter, as_version=4).cells[0]
        assert cell.cell_type == "code" and "remove-cell" in cell.metadata.get("tags", [])
        assert cell.outputs == [] and cell.execution_count is None, chapter.name
        urls = INSTALL_URL.findall(cell.source)
        if urls != [REPOSITORY["url"]]:
            disagree[chapter.name] = urls
    assert disagree == {}, f"install URLs that differ from _config.yml's {REPOSITORY['url']}"


def test_the_install_cell_installs_only_where_the_library_is_missing():
    from IPython.core.inputtransformer2 import TransformerManager

    source = nbformat.read(CHAPTERS[0], as_version=4).cells[0].source
    code = TransformerManager().transform_cell(source)
    # A stand-in for IPython's %pip that records what it would install.
    probe = f"calls = []\nget_ipython = lambda: type('', (), {{'run_line_magic': lambda self, *a: calls.append(a)}})()\n{code}\nprint(calls)"
    here = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert here.stdout.strip() == "[]"  # installed here: nothing to do
    elsewhere = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, check=True
    )  # no site-packages: the library is missing, as on Colab
    (call,) = ast.literal_eval(elsewhere.stdout.strip())
    assert call[0] == "pip" and f'"losslandscape @ git+{REPOSITORY["url"]}"' in call[1]


@pytest.mark.slow
@pytest.mark.parametrize("chapter", [c.stem for c in CHAPTERS])
def test_chapter_links_binder_and_colab_to_its_notebook(browser, server, chapter):
    page = Page(browser, f"{server}/book/{chapter}.html")
    links = page.page.eval_on_selector_all(
        ".dropdown-launch-buttons a", "links => links.map(a => [a.innerText.trim(), a.href])"
    )
    org_repo = REPOSITORY["url"].removeprefix("https://github.com/")
    notebook = f"book/{chapter}.ipynb"
    assert dict(links) == {
        "Binder": f"{CONFIG['launch_buttons']['binderhub_url']}/v2/gh/{org_repo}/main"
        f"?urlpath=lab/tree/{notebook}",
        "Colab": f"{CONFIG['launch_buttons']['colab_url']}/github/{org_repo}/blob/main/{notebook}",
    }
    # The install cell is for Jupyter only: the page does not show it.
    assert "find_spec" not in page.page.inner_text("main")
    assert page.errors == []
    page.page.close()
