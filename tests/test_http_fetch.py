"""Tests for minilocal/http_fetch.py: what fetch refuses before it connects (its
downloads over HTTP are tested through download() in test_download.py)."""

from __future__ import annotations

import pytest

from minilocal.http_fetch import fetch


class TestFetch:
    def test_fetch_refuses_non_http_urls(self, tmp_path):
        with pytest.raises(ValueError, match="only http"):
            fetch("file:///etc/passwd", tmp_path / "x", "0" * 64)
