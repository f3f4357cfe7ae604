import numpy as np
import pytest

import deconfound as dc


@pytest.fixture
def heart():
    return dc.datasets.heart_attack()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
