"""The API reference (docs/, Sphinx) builds without a warning, and documents
every public name.

The pages are the docstrings that tests/test_docstrings.py validates; this
checks what the validator cannot: that they render (a ``name_`` in a type
line is a broken reST reference, a ``|x|`` a missing substitution), that
every public name of every public module has an entry, and that the command
line's page is its ``--help``. Built from a copy of docs/, README.md (the user guide includes it) and
bench/RESULTS.md (the benchmarks page) in a temporary directory, with Sphinx's own
theme; ``pip install ".[docs]"`` adds the theme of the published pages.
"""
import importlib
import pathlib
import re
import shutil
import subprocess
import sys
import types

import pytest

pytest.importorskip("sphinx", reason="Sphinx builds the docs (the test or docs extra)")
pytest.importorskip("myst_parser", reason="myst-parser reads the Markdown pages")
pytest.importorskip("numpydoc", reason="numpydoc renders the docstrings")

from test_docstrings import MODULES, OPTIONAL  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The HTML pages: {page path: text}."""
    if not (ROOT / "docs" / "conf.py").is_file():
        pytest.skip("docs/ is not beside the tests (an installed test run)")
    src = tmp_path_factory.mktemp("docs-src")
    shutil.copytree(ROOT / "docs", src / "docs",
                    ignore=shutil.ignore_patterns("_build", "_generated"))
    shutil.copy2(ROOT / "README.md", src / "README.md")
    (src / "bench").mkdir()
    shutil.copy2(ROOT / "bench" / "RESULTS.md", src / "bench" / "RESULTS.md")
    out = src / "html"
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q",
                        "-b", "html", "-D", "html_theme=alabaster", str(src / "docs"), str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"Sphinx warned or failed:\n{r.stderr[-6000:]}"
    return {p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
            for p in out.rglob("*.html")}


@pytest.mark.slow
@pytest.mark.parametrize("modname", MODULES)
def test_every_public_name_has_an_entry(built, modname):
    if modname in OPTIONAL:
        pytest.importorskip(OPTIONAL[modname])
    mod = importlib.import_module(modname)
    course = importlib.import_module("fastbp.course")
    ids = set()
    for text in built.values():
        ids.update(re.findall(r'id="(fastbp[\w.]*)"', text))
    missing = []
    for name in mod.__all__:
        obj = getattr(mod, name)
        if isinstance(obj, types.ModuleType) or name == "__version__":
            continue
        # documented where it is defined: a re-export (fastbp.Network, a
        # course module's shared functions) links to that entry
        where = {f"{modname}.{name}", f"{getattr(obj, '__module__', None)}.{name}"}
        if modname == "fastbp":
            where |= {f"fastbp.{m}.{name}" for m in ("layers", "network", "optim")}
        if modname.startswith("fastbp.course.") and getattr(course, name, None) is obj:
            where.add(f"fastbp.course.{name}")
        if not where & ids:
            missing.append(name)
    assert not missing, f"{modname}: no entry in the API reference for {missing}"


@pytest.mark.slow
def test_the_command_lines_page_is_its_help(built):
    from fastbp.cli import build_parser

    page = built["cli.html"]
    sub = next(a for a in build_parser()._actions if hasattr(a, "_name_parser_map"))
    for name, parser in sub.choices.items():
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in page, f"fastbp {name} {flag} missing from the CLI page"


@pytest.mark.slow
def test_the_guide_is_the_readme(built):
    readme = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", readme, flags=re.M)
    assert headings
    for h in headings:
        assert h.replace("&", "&amp;") in built["guide.html"], h


@pytest.mark.slow
def test_links_between_the_markdown_files_lead_to_pages(built):
    # README.md's and docs/*.md's links to each other and to bench/RESULTS.md
    # (written for the repository's file view) must become links to pages,
    # not anchors that lead nowhere ("#bench/RESULTS.md")
    for page, text in built.items():
        dead = re.findall(r'href="#[^"]*\.md"', text)
        assert not dead, f"{page}: {dead}"
    assert 'href="benchmarks.html"' in built["guide.html"]
