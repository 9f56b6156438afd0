import warnings

import pytest

import losslandscape as ll


@pytest.fixture(scope="session")
def mnist():
    """The data the default loader gives on this machine (offline: the bundled subset)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ll.BundledDataWarning)
        return ll.load_mnist()


@pytest.fixture(scope="session")
def landscape(mnist):
    return ll.Landscape(100, data=mnist)
