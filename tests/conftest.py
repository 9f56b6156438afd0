import os

import pytest

import losslandscape as ll
from losslandscape.data import ENV_VAR, bundled_path


def pytest_configure(config):
    # Every test, and every process a test starts, computes on the bundled subset:
    # where keras can download MNIST, the default loader would bring all 60,000
    # images and change every number that depends on the data. The loader's own
    # tests (test_data.py) take this away and simulate keras both delivering and failing.
    os.environ[ENV_VAR] = str(bundled_path())


@pytest.fixture(scope="session")
def mnist():
    """The bundled subset: the first 6,309 training images of MNIST."""
    return ll.load_mnist(bundled_path())


@pytest.fixture(scope="session")
def landscape(mnist):
    return ll.Landscape(100, data=mnist)
