"""The live panels' JavaScript and the arrays it computes from, for pages that have a panel.

``losslandscape.twin.export`` writes the update rules, the registry (with the panels'
settings) and the per-image arrays the model of any N is built from into
``_static/losslandscape/``, from the data the chapters run on (the bundled subset, see
``offline_assets``); ``losslandscape.js`` (the model) and ``losslandscape-panel.js`` (the
controls) load only on pages whose body holds a panel, after plotly.js, which draws it.
"""

from pathlib import Path

from losslandscape import twin

SCRIPTS = (
    "plotly.min.js",
    "plotly-interrupts.js",
    "losslandscape/rules.js",
    "losslandscape.js",
    "losslandscape-panel.js",
)


def setup(app):
    app.connect("html-page-context", _add_scripts)
    app.connect("builder-inited", _export)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def _add_scripts(app, pagename, templatename, context, doctree):
    if twin.PANEL_CLASS in context.get("body", ""):
        for script in SCRIPTS:
            # This page only (app.add_js_file would add it to every later page too);
            # offline_assets drops a plotly.js that the page's figures already asked for.
            app.builder.add_js_file(script)


def _export(app):
    # Before any page is written, so each page's script tags carry the files' checksums
    # (?v=...) and a reader's browser never runs the rules of an older build.
    if app.builder.format == "html":
        twin.export(Path(app.outdir) / "_static" / "losslandscape")
