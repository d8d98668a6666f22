"""Sphinx configuration: fastbp's API reference and guides.

Build (from the repository root, with fastbp installed and the ``docs``
extra: ``pip install ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API pages are the installed package's docstrings (numpydoc format, the
contract tests/test_docstrings.py checks); the command line's page is its
``--help`` text, taken from the parser at build time.
"""
import importlib.util
import io
import os
import pathlib
import re
from contextlib import redirect_stdout

import fastbp

project = "fastbp"
author = "the fastbp developers"
copyright = "2026, the fastbp developers"
release = fastbp.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated"]
root_doc = "index"

# numpydoc renders the Parameters / Returns / Raises sections; the class
# pages list their members through autodoc, not numpydoc's tables (which
# would list every inherited scikit-learn method a second time)
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
# the signatures read as written in the code (defaults such as
# dtype='float32', not evaluated reprs)
autodoc_preserve_defaults = True

myst_heading_anchors = 3

# the docs extra's theme; Sphinx's own without it (tests/test_docs.py)
html_theme = ("pydata_sphinx_theme" if importlib.util.find_spec("pydata_sphinx_theme")
              else "alabaster")
html_title = f"fastbp {release}"

# the name tuples the kernels' registry makes at import (compiled, so no
# source comment for autodoc to read): their values as of this build
rst_epilog = f"""
.. |activations| replace:: ``{fastbp.ACTIVATIONS!r}``
.. |losses| replace:: ``{fastbp.LOSSES!r}``
"""


def _write_cli_help():
    """_generated/cli-*.txt: ``fastbp --help`` and each command's, as printed."""
    from fastbp.cli import build_parser

    out_dir = pathlib.Path(__file__).parent / "_generated"
    out_dir.mkdir(exist_ok=True)
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and hasattr(a, "_name_parser_map"))
    pages = {"fastbp": parser, **{f"fastbp-{name}": p for name, p in subparsers.choices.items()}}
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "88"         # argparse wraps at the terminal's width
    try:
        for name, p in pages.items():
            buf = io.StringIO()
            with redirect_stdout(buf):
                p.print_help()
            (out_dir / f"{name}.txt").write_text(buf.getvalue())
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


_write_cli_help()

#: the graded notebooks' modules, one page each
COURSE_MODULES = ["c1w3a1", "c1w4a1", "c1w4a2", "c2w1a1", "c2w1a2", "c2w1a3", "c2w2a1"]


def _write_course_pages():
    """api/course/<module>.rst: each assignment module's own functions.

    A name the module shares with ``fastbp.course`` (the same object) is
    documented on that page once; the rest (the notebook's own versions and
    helpers) here, listed from the module's ``__all__`` at build time, so a
    function added to a module appears without editing these pages.
    """
    import fastbp.course as course

    out_dir = pathlib.Path(__file__).parent / "api" / "course"
    out_dir.mkdir(exist_ok=True)
    for name in COURSE_MODULES:
        modname = f"fastbp.course.{name}"
        mod = importlib.import_module(modname)
        own = [n for n in mod.__all__ if getattr(course, n, None) is not getattr(mod, n)]
        shared = [n for n in mod.__all__ if n not in own]
        title = f"``{modname}``"
        text = [title, "=" * len(title), "", f".. automodule:: {modname}", "   :no-members:", ""]
        if shared:
            text += ["The same functions as :mod:`fastbp.course`'s: "
                     + ", ".join(f":func:`~fastbp.course.{n}`" for n in shared) + ".", ""]
        for n in own:
            directive = "autofunction" if callable(getattr(mod, n)) else "autodata"
            text += [f".. {directive}:: {modname}.{n}", ""]
        page = out_dir / f"{name}.rst"
        content = "\n".join(text)
        if not page.is_file() or page.read_text() != content:   # keep Sphinx's cache
            page.write_text(content)


_write_course_pages()


#: a :ref:/:term: role of scikit-learn's documentation (its labels and glossary)
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^>]*>)?`")


def _plain_sklearn_roles(app, what, name, obj, options, lines):
    """The methods fastbp.sklearn's estimators inherit from scikit-learn
    (``score``, ``get_params``, ``set_fit_request``, ...) keep scikit-learn's
    docstrings, whose :ref: and :term: roles point into scikit-learn's own
    pages: they become plain literals here."""
    if (getattr(obj, "__module__", None) or "").split(".")[0] == "sklearn":
        lines[:] = [_SKLEARN_ROLE.sub(lambda m: f"``{m.group(1).strip()}``", line)
                    for line in lines]


#: links of the Markdown files, written for the repository's file view, to
#: files that are pages here
_FILE_LINKS = {"](bench/RESULTS.md)": "](benchmarks.md)",
               "](../bench/RESULTS.md)": "](benchmarks.md)"}


def _page_links(text):
    for old, new in _FILE_LINKS.items():
        text = text.replace(old, new)
    return text


def _links_in_source(app, docname, source):
    source[0] = _page_links(source[0])


def _links_in_include(app, relative_path, parent_docname, content):
    content[0] = _page_links(content[0])


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_roles)
    app.connect("source-read", _links_in_source)
    app.connect("include-read", _links_in_include)
