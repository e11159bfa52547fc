"""Shared fixtures: seeded RNGs and one thread, so tests are repeatable and light."""

import contextlib
import random
import threading

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


@contextlib.contextmanager
def loopback_server(handler):
    """A ThreadingHTTPServer on 127.0.0.1 (port 0) with ``handler``, served from a thread;
    its ``url`` attribute is the base URL. Shut down and joined on exit."""
    from http.server import ThreadingHTTPServer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
