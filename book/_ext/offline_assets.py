"""Make the built book work offline and keep its pages small.

- One copy of ``plotly.min.js`` (from the installed plotly package, so the 4.8 MB file is
  not committed) is shipped in ``_static`` and loaded by every page; the chapters' figures
  are HTML that does not embed it (see ``losslandscape.plotting.show``).
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

from losslandscape.data import ENV_VAR, bundled_path
from losslandscape.plotting import STATIC_ENV

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

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
    # Loaded in <head>, before the figures' inline scripts call Plotly.newPlot.
    app.add_js_file("plotly.min.js")
    app.add_js_file("plotly-interrupts.js")  # from book/_static
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    app.connect("build-finished", _copy_plotly)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _copy_plotly(app, exception):
    if exception is None and app.builder.format == "html":
        shutil.copyfile(PLOTLY_JS, Path(app.outdir) / "_static" / PLOTLY_JS.name)


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", script.attributes.get("body"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique
