"""Make the built book work offline and keep its pages small.

- MathJax comes from the book's own ``_static/mathjax``, and only the part the pages use
  (``losslandscape.mathjax``, which the grader's feedback pages ship too).
- Each page gets the scripts its body needs and no others (``PAGE_SCRIPTS``): plotly.js
  (4.8 MB) only on pages that show a plotly figure. One copy of ``plotly.min.js`` (from
  the installed plotly package, so the file is not committed) is shipped in ``_static``;
  the chapters' figures are HTML that does not embed it (see ``losslandscape.plotting.show``).
- The themes' source maps and translation catalogues, which no page fetches, are dropped
  from ``_static`` (3.4 MB and 0.7 MB).
- sphinx-thebe's inline configuration, added twice to every page by jupyter-book 1.0.4,
  is kept once: declared twice, its ``const`` throws a JavaScript error on every page.
- The kernels that execute the chapters inherit two environment variables: the static-HTML
  mode of ``losslandscape.plotting.show`` and ``widgets.live_panel``, and the bundled
  MNIST subset, so the build never tries the network and is the same on every machine.
- They also get an IPython profile of their own, in a temporary folder, that drops one
  known and harmless log line: ipykernel warns at every chapter that the kernel talks
  over TCP without encryption, here between two processes of the same build. (myst-nb
  passes no configuration to the kernel manager, so the transport cannot be changed.)
"""

import os
import shutil
import tempfile
from pathlib import Path

import plotly

from losslandscape import mathjax
from losslandscape.data import ENV_VAR, bundled_path
from losslandscape.plotting import STATIC_ENV

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


# What the themes put in _static that no page fetches: source maps (only a browser's developer
# tools read them) and translation catalogues (applied when the pages are written).
UNFETCHED = ["**/*.map", "locales"]

# A marker in a page's rendered body -> the scripts from _static that page loads, in
# <head>: synchronously, so they run before the body's inline scripts that use them
# (a figure's script calls Plotly.newPlot while the page parses).
PAGE_SCRIPTS = {
    'class="plotly-graph-div"': ["plotly.min.js", "plotly-interrupts.js"],
}

KERNEL_CONFIG = """\
import logging


class _DropUnencryptedTcpNotice(logging.Filter):
    def filter(self, record):
        return not record.getMessage().startswith("Kernel is running over TCP without encryption")


logging.getLogger("IPKernelApp").addFilter(_DropUnencryptedTcpNotice())
"""


def setup(app):
    profile = Path(tempfile.mkdtemp(prefix="losslandscape-ipython-")) / "profile_default"
    profile.mkdir()
    (profile / "ipython_kernel_config.py").write_text(KERNEL_CONFIG)
    os.environ["IPYTHONDIR"] = str(profile.parent)
    app.connect("build-finished", lambda app, exception: shutil.rmtree(profile.parent))
    os.environ[STATIC_ENV] = "1"
    os.environ.setdefault(ENV_VAR, str(bundled_path()))
    app.connect("config-inited", _use_own_mathjax)
    app.connect("builder-inited", _copy_assets)
    app.connect("html-page-context", _add_page_scripts)
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("build-finished", _drop_unfetched)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _use_own_mathjax(app, config):
    config.mathjax_path = f"mathjax/{mathjax.ENTRY}"


def _copy_assets(app):
    """Copy before the pages are written, so their ``?v=`` digests are those of these files."""
    if app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLOTLY_JS, static / PLOTLY_JS.name)
    # Replaced whole, so an output folder built before keeps no MathJax the pages do not use.
    shutil.rmtree(static / "mathjax", ignore_errors=True)
    for name, source in mathjax.files().items():
        target = static / "mathjax" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def _drop_unfetched(app, exception):
    if exception is None and app.builder.format == "html":
        for pattern in UNFETCHED:
            for path in (Path(app.outdir) / "_static").glob(pattern):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()


def _add_page_scripts(app, pagename, templatename, context, doctree):
    body = context.get("body", "")
    for marker, scripts in PAGE_SCRIPTS.items():
        if marker in body:
            for script in scripts:
                # The builder's list is reset for every page (as sphinx.ext.mathjax relies on);
                # app.add_js_file would also register the script for the whole build.
                app.builder.add_js_file(script)


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", script.attributes.get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique
