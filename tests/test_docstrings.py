"""The public docstrings as a contract, checked with numpydoc's validator.

Every public function, class and method of the public modules (their
``__all__``, and the methods and properties a fastbp class defines or
inherits from another fastbp class) must pass the numpydoc checks in
``ENFORCED``: every parameter documented and no parameter documented that
does not exist, in the signature's order, each with a type; a Returns section
when the function returns something; the sections in numpydoc's order. So a
parameter added without its docstring entry fails here.

Not enforced, on purpose (the house style, STYLE.md, differs from numpydoc's
defaults): a summary that is a formula ("dZ = AL - Y") rather than an
infinitive verb, capitalised and on one line (SS02, SS05, SS06); a parameter
or return whose type line says everything, ``W : ndarray (n, n_prev)``
(PR07, RT03); named single returns (RT02); See Also and Examples sections
(SA01, EX01); an extended summary (ES01); wording (GL02, PR06, PR08, RT04,
RT05, SA03). Module docstrings are prose with their own headings and are not
validated.

The docstrings' Examples run as doctests (plain values only: nothing that
depends on timing, threads or the BLAS).

A further check reads the defaults written in the type lines (``lambd : float,
default 0.0``) and compares them with the signatures.
"""
import ast
import doctest
import functools
import importlib
import inspect
import re

import pytest

validate = pytest.importorskip("numpydoc.validate", reason="numpydoc is needed").validate

MODULES = [
    "fastbp", "fastbp.layers", "fastbp.network", "fastbp.optim", "fastbp.checkpoint",
    "fastbp.distributed", "fastbp.sklearn", "fastbp.datasets", "fastbp.course",
    "fastbp.course.c1w3a1", "fastbp.course.c1w4a1", "fastbp.course.c1w4a2",
    "fastbp.course.c2w1a1", "fastbp.course.c2w1a2", "fastbp.course.c2w1a3",
    "fastbp.course.c2w2a1",
]
#: modules that need an optional dependency to import
OPTIONAL = {"fastbp.sklearn": "sklearn"}

ENFORCED = {
    "GL03",   # double line break
    "GL05",   # tabs
    "GL06",   # unknown section
    "GL07",   # sections in the wrong order
    "GL08",   # no docstring
    "GL09",   # deprecation warning not first
    "GL10",   # reST directive without its double colon
    "SS01",   # no summary
    "SS03",   # summary not ending with a period
    "SS04",   # summary with leading whitespace
    "PR01",   # a parameter not documented
    "PR02",   # a documented parameter that does not exist
    "PR03",   # parameters in another order than the signature's
    "PR04",   # a parameter without a type
    "PR05",   # a type ending with a period
    "PR10",   # "name: type" without the space before the colon
    "RT01",   # no Returns section for a function that returns a value
    "YD01",   # no Yields section for a generator
}


def _module(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    return importlib.import_module(name)


def _inherits_doc(cls, attr):
    """Whether ``cls.attr`` has no docstring of its own but overrides a
    documented fastbp base class's (Sphinx shows the base's; so do we)."""
    own = vars(cls).get(attr)
    if own is None or getattr(own, "__doc__", None):
        return False
    return any(attr in vars(base) and getattr(vars(base)[attr], "__doc__", None)
               for base in cls.__mro__[1:] if base.__module__.startswith("fastbp"))


@functools.lru_cache(maxsize=None)
def _public_names(modname):
    """Import paths of the module's public functions, classes and methods."""
    mod = _module(modname)
    names, seen = [], set()
    for name in mod.__all__:
        obj = getattr(mod, name)
        if inspect.ismodule(obj) or not callable(obj) or id(obj) in seen:
            continue
        if getattr(obj, "__module__", "") is None or not str(
                getattr(obj, "__module__", "")).startswith("fastbp"):
            continue            # a name re-exported from another package
        seen.add(id(obj))
        names.append(f"{modname}.{name}")
        if inspect.isclass(obj):
            for attr in sorted(dir(obj)):
                if attr.startswith("_"):
                    continue
                owner = next((k for k in obj.__mro__ if attr in vars(k)), None)
                if owner is None or not owner.__module__.startswith("fastbp"):
                    continue    # scikit-learn's BaseEstimator methods, object's
                member = vars(owner)[attr]
                if not (callable(member) or isinstance(member, property)):
                    continue
                if _inherits_doc(owner, attr):
                    continue
                names.append(f"{modname}.{name}.{attr}")
    return tuple(names)


@functools.lru_cache(maxsize=None)
def _errors(name):
    return tuple(validate(name)["errors"])


@pytest.mark.parametrize("modname", MODULES)
def test_public_docstrings(modname):
    problems = []
    for name in _public_names(modname):
        for code, message in _errors(name):
            if code in ENFORCED:
                problems.append(f"{name}: {code} {message}")
    assert not problems, ("numpydoc finds public docstrings that break the contract "
                          "(tests/test_docstrings.py says which codes and why):\n"
                          + "\n".join(problems))


_DEFAULT = re.compile(r"\bdefault[ =:]+(.+?)\s*$")


@pytest.mark.parametrize("modname", MODULES)
def test_documented_defaults_match_signatures(modname):
    """``x : float, default 0.0`` in a docstring says what the signature says."""
    from numpydoc.docscrape import get_doc_object
    from numpydoc.validate import Validator

    problems = []
    for name in _public_names(modname):
        doc = Validator(get_doc_object(Validator._load_obj(name)))
        obj = doc.obj
        target = obj.__init__ if inspect.isclass(obj) else obj
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):
            continue
        for pname, (ptype, _) in doc.doc_parameters.items():
            param = sig.parameters.get(pname.lstrip("*"))
            found = _DEFAULT.search(ptype)
            if param is None or found is None:
                continue
            text = found.group(1).strip("`")
            try:
                documented = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                continue        # prose ("the network's"), numpy.float64, np.inf: not compared
            if param.default is inspect.Parameter.empty:
                problems.append(f"{name}({pname}): documented default {text} but required")
            elif documented != param.default or type(documented) is bool is not type(
                    param.default):
                problems.append(f"{name}({pname}): documented default {text}, "
                                f"signature {param.default!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("modname", MODULES)
def test_docstring_examples(modname):
    """The Examples sections run and print what they show."""
    mod = _module(modname)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} doctest(s) of {modname} failed (see above)"
