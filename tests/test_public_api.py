"""The public API (minilocal/__init__.py): every name resolves; heavy imports stay lazy."""

import subprocess
import sys

import minilocal as ml


def test_every_public_name_resolves_once():
    assert len(ml.__all__) == len(set(ml.__all__))
    for name in ml.__all__:
        assert getattr(ml, name) is not None, name


def test_import_minilocal_leaves_the_optional_dependencies_alone():
    code = ("import sys, minilocal; print(sorted(m for m in ('captum', 'dlib', 'plotly', 'av', "
            "'ipywidgets', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_attribute_is_loaded_on_first_use():
    from minilocal.explain import attribute

    assert ml.attribute is attribute


def test_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ml.nope
