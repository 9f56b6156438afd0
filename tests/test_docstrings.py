"""The public API's docstrings: their examples run, and every entry point says what it takes.

The examples are the API page's (book/11_api.md); conftest.py points the loader at the
bundled subset of MNIST, and the examples pass it explicitly besides, so they run offline.
"""

import doctest
import importlib
import inspect
import re

import pytest

import losslandscape as ll
from losslandscape import widgets

MODULES = ["training", "landscape", "data", "reproduce", "optimizers", "widgets"]


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_run(name):
    module = importlib.import_module(f"losslandscape.{name}")
    failed, attempted = doctest.testmod(module)
    assert attempted > 0, f"losslandscape.{name} has no examples"
    assert failed == 0, f"{failed} of losslandscape.{name}'s {attempted} examples failed"


def _exported():
    """The functions and classes of ``losslandscape.__all__``, exceptions left out."""
    for name in ll.__all__:
        obj = getattr(ll, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            yield pytest.param(obj, id=name)


ENTRY_POINTS = [
    *_exported(),
    *(
        pytest.param(obj, id=obj.__qualname__)
        for obj in (
            ll.Landscape.cost,
            ll.Landscape.cost_and_gradient,
            ll.Landscape.grid,
            ll.Trajectory.seed_record,
            ll.data.bundled_path,
            widgets.OptimizerPanel,
            widgets.OptimizerPanel.update,
            widgets.live_panel,
        )
    ),
]


def test_the_exports_are_all_checked():
    names = {param.id for param in ENTRY_POINTS}
    assert {"train", "Trajectory", "Landscape", "loss_grid", "load_mnist", "MNIST"} <= names
    assert {"reproduce", "sgd_step", "adam_step"} <= names
    assert not names & {"DivergenceError", "BundledDataWarning", "RuleCodeError", "SEED"}


@pytest.mark.parametrize("obj", ENTRY_POINTS)
def test_every_entry_point_documents_its_arguments(obj):
    doc = inspect.getdoc(obj)
    assert doc and not doc.startswith(f"{obj.__name__}("), "no docstring of its own"
    parameters = [name for name in inspect.signature(obj).parameters if name != "self"]
    if not parameters:
        return
    section = re.search(r"^Args:\n((?:[ ]+\S.*\n|\n)+)", doc + "\n", re.M)
    assert section, f"{obj.__qualname__} takes {', '.join(parameters)} but has no Args: section"
    missing = [name for name in parameters if not re.search(rf"\b{name}\b", section.group(1))]
    assert not missing, f"{obj.__qualname__}'s Args: section does not name {', '.join(missing)}"
