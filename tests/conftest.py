"""Shared fixtures: seeded RNGs and one thread, so tests are repeatable and light."""

import random

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def seeded():
    """Seed every RNG before each test (as captum's BaseTest does)."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


def pytest_configure(config):
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def lfw_root():
    """The raw LFW photos of ../shared (skips the test where they are missing)."""
    from minilocal.paths import find_dataset

    try:
        return find_dataset("lfw_faces")
    except FileNotFoundError:
        pytest.skip("shared dataset lfw_faces not available")
