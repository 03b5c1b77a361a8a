"""Sphinx configuration for the xgradient documentation.

Build with::

    python -m pip install -e . -r docs/requirements.txt
    python -m sphinx -b html docs docs/_build/html -W --keep-going

Only ``myst-parser`` is strictly required.  Missing optional extensions
degrade instead of failing: numpydoc -> ``sphinx.ext.napoleon``, furo ->
the built-in alabaster theme, and without sphinx-autosummary-accessors the
``DataArray.grad`` / ``Dataset.grad`` entries of the API page are documented
through the accessor classes instead.  Cross-links to numpy, xarray and dask
(intersphinx) need the network and are off unless ``XGRADIENT_DOCS_INTERSPHINX=1``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, if it is not installed

import xgradient  # noqa: E402


def _have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


project = "xgradient"
author = "xgradient developers"
copyright = "xgradient developers"
version = release = xgradient.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
]
HAVE_NUMPYDOC = _have("numpydoc")
HAVE_ACCESSORS = _have("sphinx_autosummary_accessors")
extensions.append("numpydoc" if HAVE_NUMPYDOC else "sphinx.ext.napoleon")
templates_path: list[str] = []
if HAVE_ACCESSORS:
    import sphinx_autosummary_accessors

    extensions.append("sphinx_autosummary_accessors")
    templates_path.append(sphinx_autosummary_accessors.templates_path)

if os.environ.get("XGRADIENT_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "xarray": ("https://docs.xarray.dev/en/stable", None),
        "dask": ("https://docs.dask.org/en/stable", None),
    }

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: ```{eval-rst} blocks for autodoc, $...$ maths, heading anchors.
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# autodoc / autosummary: pages are written by hand (api.md), nothing generated.
autosummary_generate = False
autodoc_typehints = "none"  # the numpydoc "Parameters" sections say it better
autodoc_member_order = "bysource"
add_module_names = False

if HAVE_NUMPYDOC:
    numpydoc_show_class_members = False
    numpydoc_class_members_toctree = False
    numpydoc_xref_param_type = False

highlight_language = "python"
pygments_style = "sphinx"

if _have("furo"):
    html_theme = "furo"
elif _have("pydata_sphinx_theme"):
    html_theme = "pydata_sphinx_theme"
else:
    html_theme = "alabaster"
html_title = f"xgradient {release}"
html_static_path: list[str] = []

# -- Without sphinx-autosummary-accessors ------------------------------------
# api.md marks the accessor section with <!-- accessor-api:begin/end -->; the
# source-read hook below swaps it for plain autodoc of the accessor classes.
_ACCESSOR_SECTION = re.compile(
    r"<!-- accessor-api:begin -->.*?<!-- accessor-api:end -->", flags=re.DOTALL
)
_ACCESSOR_FALLBACK = """
```{eval-rst}
.. note:: Built without sphinx-autosummary-accessors: ``DataArray.grad`` and
   ``Dataset.grad`` are documented through their classes.

.. autoclass:: xgradient.accessor.DataArrayGradAccessor
   :members: __call__, second, spherical, laplacian

.. autoclass:: xgradient.accessor.DatasetGradAccessor
   :members: __call__, second, spherical, laplacian, divergence, vorticity
```
"""


def _accessor_fallback(app, docname, source):
    if docname == "api":
        source[0] = _ACCESSOR_SECTION.sub(lambda _: _ACCESSOR_FALLBACK, source[0])


def setup(app):
    if not HAVE_ACCESSORS:
        app.connect("source-read", _accessor_fallback)
