"""Packaging: what a user installs is complete, self-describing and needs no compiler.

These tests are meant to run against an installed fastbp from outside the
source tree (``.ci/run`` and cibuildwheel copy ``tests/`` and
``pyproject.toml`` into an empty directory). Two environment variables turn
on the checks that only make sense there:

* ``FASTBP_EXPECT_INSTALLED=1``: fastbp must be imported from site-packages,
  not from a source tree or an in-place build;
* ``FASTBP_SDIST=path/to/fastbp-X.tar.gz``: the sdist's contents are checked.

Metadata is compared with the ``pyproject.toml`` next to ``tests/`` when there
is one (and Python has ``tomllib``), otherwise with fixed expectations.
"""
import importlib.metadata as md
import io
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
from pathlib import Path

import pytest

import fastbp

packaging = pytest.importorskip("packaging", reason="packaging (a pytest dependency) is needed")
from packaging.requirements import Requirement  # noqa: E402
from packaging.specifiers import SpecifierSet  # noqa: E402
from packaging.version import Version  # noqa: E402

TESTS = Path(__file__).resolve().parent
#: shared libraries a wheel may carry: the OpenMP runtime, never a BLAS
ALLOWED_VENDORED = re.compile(r"^(lib)?(gomp|omp|iomp5|vcomp\d*|msvcp\d*|vcruntime\d*)\b", re.I)
BLAS_NAMES = re.compile(r"(blas|lapack|mkl|accelerate)", re.I)
SHLIB = re.compile(r"\.(so(\.\d+)*|dylib|dll|pyd)$", re.I)


def _dist():
    try:
        return md.distribution("fastbp")
    except md.PackageNotFoundError:
        pytest.skip("fastbp is not installed (in-place build?): no package metadata to check")


def _meson_version():
    """The project version in the meson.build beside tests/ (the one version
    source; pyproject.toml declares it dynamic), or None."""
    path = TESTS.parent / "meson.build"
    if not path.is_file():
        return None
    m = re.search(r"^project\(.*?^\s*version:\s*'([^']+)'", path.read_text(), re.M | re.S)
    return m.group(1) if m else None


def _pyproject():
    """[project] of the pyproject.toml beside tests/, or None."""
    path = TESTS.parent / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return None
    with open(path, "rb") as f:
        data = tomllib.load(f)
    project = data.get("project", {})
    return project if project.get("name") == "fastbp" else None


def _runtime_requires(dist):
    reqs = [Requirement(r) for r in dist.requires or []]
    return [r for r in reqs if r.marker is None or "extra" not in str(r.marker)]


def _extra_requires(dist, extra):
    reqs = [Requirement(r) for r in dist.requires or []]
    return [r for r in reqs if r.marker is not None and r.marker.evaluate({"extra": extra})
            and "extra" in str(r.marker)]


# ------------------------------------------------------------------ metadata
def test_metadata_name_and_version():
    meta = _dist().metadata
    assert meta["Name"] == "fastbp"
    assert meta["Version"] == fastbp.__version__, (
        f"wheel metadata says {meta['Version']} but fastbp.__version__ is "
        f"{fastbp.__version__}: bump both together")
    Version(meta["Version"])  # a valid PEP 440 version
    project = _pyproject()
    if project is not None:
        assert project.get("dynamic") == ["version"] and "version" not in project, (
            "pyproject.toml must take the version from meson.build (dynamic), not repeat it")
        if _meson_version() is not None:  # meson.build is copied beside tests/ with pyproject.toml
            assert meta["Version"] == _meson_version(), "metadata differs from meson.build's version"
    assert meta["Summary"], "empty description"
    body = (meta.get_payload() if hasattr(meta, "get_payload") else None) or meta["Description"]
    assert "fastbp" in (body or ""), (
        "the long description (README) is missing from the metadata")


def test_metadata_requires_python():
    meta = _dist().metadata
    spec = meta["Requires-Python"]
    assert spec, "Requires-Python is not set"
    spec = SpecifierSet(spec)
    here = ".".join(map(str, sys.version_info[:3]))
    assert spec.contains(here), f"running on Python {here}, outside Requires-Python {spec}"
    assert not spec.contains("3.9"), f"Requires-Python {spec} admits 3.9, which is not supported"
    project = _pyproject()
    if project is not None:
        assert SpecifierSet(project["requires-python"]) == spec


def test_metadata_dependencies():
    dist = _dist()
    reqs = {r.name.lower(): r for r in _runtime_requires(dist)}
    assert set(reqs) == {"numpy", "scipy"}, (
        f"runtime dependencies are {sorted(reqs)}; fastbp needs exactly numpy and scipy "
        "(BLAS comes from SciPy)")
    for name, req in reqs.items():
        lower = [s for s in req.specifier if s.operator in (">=", "~=", "==")]
        assert lower, f"{name} has no lower bound: {req}"
        installed = md.version(name)
        assert req.specifier.contains(installed, prereleases=True), (
            f"installed {name} {installed} does not satisfy the declared {req}")
    project = _pyproject()
    if project is not None:
        declared = {Requirement(r).name.lower(): SpecifierSet(str(Requirement(r).specifier))
                    for r in project["dependencies"]}
        assert {k: r.specifier for k, r in reqs.items()} == declared
    test_extra = {r.name.lower() for r in _extra_requires(dist, "test")}
    assert "pytest" in test_extra, f"the [test] extra lacks pytest: {sorted(test_extra)}"


def test_console_script():
    eps = [ep for ep in _dist().entry_points
           if ep.group == "console_scripts" and ep.name == "fastbp"]
    assert eps, "no `fastbp` console script in the metadata"
    assert eps[0].value == "fastbp.cli:main"
    assert callable(eps[0].load())


# --------------------------------------------------------------- wheel files
def _wheel_files():
    """The files the installed wheel recorded (RECORD); skips for an editable
    install, whose RECORD lists only the loader that builds on import."""
    files = [str(f).replace("\\", "/") for f in (_dist().files or [])]
    if not files:
        pytest.skip("the installer recorded no file list (RECORD)")
    if not any(f.startswith("fastbp/") for f in files):
        pytest.skip("an editable install records no package files (a wheel-only check; "
                    ".ci/run runs it on the built wheel)")
    return files


def test_installed_files_compiled_and_no_blas():
    files = _wheel_files()
    ext = sysconfig.get_config_var("EXT_SUFFIX") or ""
    pyx = sorted(f for f in files if re.fullmatch(r"fastbp/_\w+\.pyx", f))
    assert pyx, f"no .pyx sources installed next to the modules: {files}"
    for src in pyx:
        mod = src[:-len(".pyx")]
        assert any(f.startswith(mod + ".") and SHLIB.search(f) for f in files), (
            f"{src} is installed but its compiled module {mod}{ext} is not")
    shlibs = [f for f in files if SHLIB.search(f) and not f.startswith("fastbp/_")]
    for f in shlibs:
        name = f.rsplit("/", 1)[-1]
        assert not BLAS_NAMES.search(name), (
            f"the wheel carries a BLAS library {f}: fastbp must use SciPy's through "
            "scipy.linalg.cython_blas and link none")
        assert ALLOWED_VENDORED.match(name), f"unexpected shared library in the wheel: {f}"


#: C-API functions the headers of Python 3.13 (the newest the README promises)
#: mark Py_DEPRECATED: the compiler warns on every build there, and the
#: removals are scheduled (PyWeakref_GetObject and PyWeakref_GET_OBJECT in
#: 3.15), when a build from the sdist would fail
DEPRECATED_C_API = ("PyWeakref_GetObject", "PyWeakref_GET_OBJECT", "PyImport_ImportModuleNoBlock",
                    "PyEval_InitThreads", "PySys_ResetWarnOptions", "PyCode_GetFirstFree",
                    "Py_UNICODE", "PyUnicode_AsDecodedObject", "PyUnicode_AsEncodedObject",
                    "PyThread_create_key", "PyThread_get_key_value", "PyThread_set_key_value")


def test_cython_sources_use_no_c_api_deprecated_in_python_3_13():
    """The .pyx / .pxd files (installed beside the modules) call no C-API
    function that Python 3.13 deprecates: _course.pyx's PyWeakref_GetObject
    gave the one -Wdeprecated-declarations of a 3.13 build."""
    pkg = Path(fastbp.__file__).resolve().parent
    sources = sorted(pkg.glob("*.pyx")) + sorted(pkg.glob("*.pxd"))
    if not sources:
        pytest.skip(f"no .pyx / .pxd files beside {pkg}")
    word = re.compile(r"\b(" + "|".join(DEPRECATED_C_API) + r")\b")
    found = [f"{src.name}:{i}: {line.strip()}" for src in sources
             for i, line in enumerate(src.read_text(encoding="utf-8").splitlines(), 1)
             if word.search(line.split("#", 1)[0])]
    assert not found, ("C-API deprecated in Python 3.13 (a build warning there, an error "
                       "once removed):\n" + "\n".join(found))


def test_the_cited_guides_are_installed():
    """Messages and docstrings cite docs/distributed.md and docs/architecture.md;
    a wheel carries them in fastbp/docs (an installed copy had no way to reach
    them), and ``fastbp info`` says where they are."""
    text = io.StringIO()
    where = fastbp.show_config(file=text)["docs"]
    assert where is not None and Path(where, "distributed.md").is_file(), where
    assert f"docs       {where}" in text.getvalue(), text.getvalue()
    files = _wheel_files()        # (skips for an editable install: the source tree's docs/)
    for name in ("distributed.md", "architecture.md"):
        assert f"fastbp/docs/{name}" in files, f"the wheel does not carry docs/{name}"
    assert Path(where).resolve() == (Path(fastbp.__file__).parent / "docs").resolve()


@pytest.mark.skipif(os.environ.get("FASTBP_EXPECT_INSTALLED") != "1",
                    reason="set FASTBP_EXPECT_INSTALLED=1 to require an installed fastbp")
def test_imported_from_site_packages():
    where = Path(fastbp.__file__).resolve().parent
    site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    assert where.parent in site, (
        f"fastbp was imported from {where}, not from site-packages {sorted(map(str, site))}: "
        "a source tree or in-place build shadows the installed package")
    assert TESTS.parent != where.parent, f"fastbp imported from the tests' tree {where}"


# ------------------------------------------------------- no compiler needed
def _editable():
    """True for meson-python's editable install, whose loader rebuilds changed
    sources on import (so it needs ninja and a compiler by design)."""
    return type(fastbp.__spec__.loader).__module__.endswith("_editable_loader")


@pytest.mark.skipif(_editable(), reason="an editable install rebuilds on import by design; "
                    "the no-compiler check applies to a wheel (.ci/run runs it there)")
def test_import_without_compiler(tmp_path):
    """Every fastbp module imports and a kernel runs with no compiler reachable:
    PATH is empty, CC/CXX point nowhere, and Cython/setuptools/distutils
    cannot be imported (nothing may build on first import)."""
    import pkgutil

    modules = ["fastbp"] + sorted(
        f"fastbp.{m.name}" for m in pkgutil.iter_modules(fastbp.__path__)
        if m.name != "__main__")
    code = textwrap.dedent(f"""
        import importlib, importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("Cython", "pyximport", "setuptools", "distutils"):
                    raise ImportError(name + " is blocked: no build tools at run time")
        sys.meta_path.insert(0, Block())
        for m in {modules!r}:
            importlib.import_module(m)
        import numpy as np, fastbp
        rng = np.random.default_rng(0)
        A = rng.standard_normal((5, 7)); W = rng.standard_normal((3, 5)); b = np.zeros((3, 1))
        Z, H = fastbp.dense_forward(A, W, b, "relu")
        dA, dW, db = fastbp.dense_backward(np.ones_like(Z), A, W, None)
        assert np.allclose(dW, np.ones_like(Z) @ A.T / 7)
        print(fastbp.__file__)
    """)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("CFLAGS", "CPPFLAGS", "LDFLAGS", "PYTHONPATH")}
    nowhere = str(tmp_path / "no-such-compiler")
    env.update(PATH=str(empty), CC=nowhere, CXX=nowhere, LDSHARED=nowhere,
               # import fastbp from where this process did (site-packages,
               # or an in-place build during development)
               PYTHONPATH=str(Path(fastbp.__file__).resolve().parent.parent))
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"import without a compiler failed:\n{r.stdout}\n{r.stderr}"
    assert Path(r.stdout.strip().splitlines()[-1]).resolve() == Path(fastbp.__file__).resolve()


# -------------------------------------------------------------------- sdist
def _sdist_names():
    path = os.environ.get("FASTBP_SDIST")
    if not path:
        pytest.skip("set FASTBP_SDIST=path/to/fastbp-*.tar.gz to check an sdist")
    with tarfile.open(path) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    top = {n.split("/", 1)[0] for n in names}
    assert len(top) == 1, f"the sdist should unpack into one directory, has {sorted(top)}"
    prefix = top.pop() + "/"
    return path, {n[len(prefix):] for n in names}


def test_sdist_contents():
    path, names = _sdist_names()
    with tarfile.open(path) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/PKG-INFO")
                      and m.name.count("/") == 1)
        pkg_info = tar.extractfile(member).read().decode()
        sources = {n: tar.extractfile(m).read().decode("utf-8", "replace")
                   for m in tar.getmembers() if m.isfile()
                   for n in [m.name.split("/", 1)[1]]
                   if n.endswith((".pyx", ".pxd", ".h"))}
    missing = [f for f in ("README.md", "LICENSE", "pyproject.toml", "meson.build",
                           "meson.options", "src/fastbp/meson.build", "PKG-INFO",
                           "tests/conftest.py") if f not in names]
    assert not missing, f"{path} lacks {missing}"
    assert re.search(rf"^Version: {re.escape(fastbp.__version__)}$", pkg_info, re.M)
    # every source and test of this checkout / installed package is in it
    want = {f"tests/{p.name}" for p in TESTS.glob("*.py")}
    want |= {"src/" + f for f in _wheel_files()
             if f.startswith("fastbp/") and f.endswith((".py", ".pyx", ".pxd"))
             and f != "fastbp/_version.py"}  # generated by meson from _version.py.in
    missing = sorted(want - names)
    assert not missing, f"{path} lacks {missing} (is every source tracked by git?)"
    assert any(n.startswith("csrc/") and n.endswith(".h") for n in names), "no csrc/*.h"
    # every header the Cython and C sources include by name ships in csrc/
    headers = set()
    for text in sources.values():
        headers |= set(re.findall(r'cdef\s+extern\s+from\s+"([^"<>]+\.h)"', text))
        headers |= set(re.findall(r'#\s*include\s+"([^"<>]+\.h)"', text))
    missing = sorted(h for h in headers if f"csrc/{h}" not in names and h not in names)
    assert not missing, f"{path} lacks headers the sources include: {missing}"
    # nothing built: no binaries, no generated C (Cython regenerates it)
    built = sorted(n for n in names if SHLIB.search(n) or n.endswith((".o", ".obj", ".pyc"))
                   or re.fullmatch(r"src/fastbp/[^/]+\.(c|cpp)", n) or n.startswith("build/"))
    assert not built, f"{path} carries build products: {built}"
