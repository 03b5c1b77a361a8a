"""Sphinx configuration for the xgradient documentation site.

Build it (what CI runs, warnings are errors)::

    python -m pip install -e ".[docs]"
    python -m sphinx -b html docs docs/_build/html -W --keep-going

then open ``docs/_build/html/index.html``.  The build runs every script in
``examples/`` (sphinx-gallery) and keeps the figures they draw; the size of
their grids comes from ``XGRADIENT_EXAMPLE_SIZE`` (small, medium, large;
medium unless set).  Cross-links to numpy, xarray and dask (intersphinx)
need the network and are off unless ``XGRADIENT_DOCS_INTERSPHINX=1``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import sphinx_autosummary_accessors

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the package, if it is not installed

import xgradient  # noqa: E402

project = "xgradient"
author = "xgradient developers"
copyright = "xgradient developers"
version = release = xgradient.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx_autosummary_accessors",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
    "matplotlib.sphinxext.plot_directive",
]

if os.environ.get("XGRADIENT_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "xarray": ("https://docs.xarray.dev/en/stable", None),
        "dask": ("https://docs.dask.org/en/stable", None),
    }

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "gallery/*.ipynb", "gallery/*.py"]
templates_path = [sphinx_autosummary_accessors.templates_path]

# MyST: ```{eval-rst} blocks for autodoc, $...$ maths, heading anchors.
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# autosummary writes one page per public function and accessor method
# (docs/generated/, not committed) from the tables in api.md.
autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc "Parameters" sections say it better
autodoc_member_order = "bysource"
add_module_names = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

highlight_language = "python"
pygments_style = "sphinx"
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

# -- The gallery: every script in examples/ runs and shows its figures -------
# Each script reads its grid size from XGRADIENT_EXAMPLE_SIZE; "medium" draws
# figures worth looking at in about 5 s a script on two cores.
os.environ.setdefault("XGRADIENT_EXAMPLE_SIZE", "medium")
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "gallery",
    "filename_pattern": r".*\.py$",  # run every script, not only plot_*.py
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "line_numbers": False,
    "min_reported_time": 0,
    "abort_on_example_error": False,  # report every failing script, then fail
    "only_warn_on_example_error": False,
}

# -- Figures drawn by code in the pages (performance.md, accuracy.md) --------
plot_include_source = False
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_working_directory = str(ROOT)  # the plot scripts read benchmarks/results/

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"xgradient {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting-started": [], "comparison": [], "faq": []}


def _check_gallery_figures(app, exception):
    """Every example script must draw a figure: warn (an error under -W) if one did not."""
    if exception is not None or app.builder.name != "html":
        return
    images = HERE / "gallery" / "images"
    for script in sorted((ROOT / "examples").glob("*.py")):
        if not list(images.glob(f"sphx_glr_{script.stem}_*.png")):
            from sphinx.util import logging

            logging.getLogger(__name__).warning(
                "examples/%s drew no figure for the gallery (it must leave one open)",
                script.name,
            )


def setup(app):
    app.connect("build-finished", _check_gallery_figures)
