"""The layering of fastbp's modules: imports run one way, privates stay home.

Reads the source files of the fastbp that was imported (the installed
package, or the source tree of an editable install): every ``*.py`` with
``ast`` -- imports inside functions included -- and the ``.pyx``/``.pxd``
files installed beside the compiled modules with a regex. Checks:

(a) the import graph has no cycle;
(b) no module imports a module of a higher layer (``LAYERS`` below);
(c) no module uses another module's private name (``from fastbp.x import _y``,
    ``cimport`` included, or ``x._y`` on an imported fastbp module) unless
    both are in the same layer. Importing a private *module* (``fastbp._dense``,
    ``fastbp._fit``) is fine -- an underscore module is internal to the
    package, not to its file -- but the names used from it must be public in
    it. Dunder names (``__version__``) are not private;
(d) ``fastbp/__init__.py`` holds only a docstring, imports, ``__all__`` and
    ``__version__``.
"""
import ast
import re
from pathlib import Path

import pytest

import fastbp

#: top layer first; a module may import modules of its own layer or lower
LAYERS = [
    ["__main__"],
    ["__init__", "cli"],
    ["course", "sklearn"],
    ["network"],                  # the model; picks the stepper for fit/train_step
    ["distributed"],              # the MPI stepper (fastbp.distributed.Replica)
    ["_fit"],                     # the training loop, for any model + stepper
    ["checkpoint", "layers", "optim"],   # state; the layer kernels' Python API
    ["_validation"],
    ["_config", "_numpy_baseline", "_version", "datasets", "reference"],   # leaf utilities
    # compiled kernels (.pyx / .pxd); _bench, _loss, _netstep, _rows, _testing
    # arrive with the kernels branch's split
    ["_bench", "_blas", "_course", "_dense", "_kernels", "_loss", "_netstep", "_network",
     "_openmp_helpers", "_registry", "_rows", "_testing"],
]
#: cross-layer private uses tolerated for now, each with the reason and the way out
#: (user, module, private name) -> why it is tolerated; empty: no exception
ALLOWED_PRIVATE = {}
LAYER = {mod: len(LAYERS) - i for i, layer in enumerate(LAYERS) for mod in layer}
COMPILED = set(LAYERS[-1])
PKG = Path(fastbp.__file__).resolve().parent


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_of(path):
    """fastbp.<module> that a source file belongs to (a subpackage counts as one)."""
    rel = path.relative_to(PKG).with_suffix("")
    return rel.parts[0]


def _target(dotted, name=None):
    """(module, name used from it or None) of ``from dotted import name`` / ``import dotted``."""
    parts = dotted.split(".")
    if parts[0] != "fastbp":
        return None
    if len(parts) > 1:
        return parts[1], name
    if name is not None and name in LAYER:         # from fastbp import network
        return name, None
    return "__init__", name                         # from fastbp import Network


class Use:
    def __init__(self, src, line, module, name, kind):
        self.src, self.line, self.module, self.name, self.kind = src, line, module, name, kind

    def where(self):
        return f"{self.src.relative_to(PKG)}:{self.line}"


def _python_uses(path):
    """Every fastbp import and private attribute use in a .py file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    uses = []
    aliases = {}       # local name -> fastbp module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                t = _target(a.name)
                if t:
                    uses.append(Use(path, node.lineno, t[0], None, "import"))
                    if a.asname:
                        aliases[a.asname] = t[0]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:           # relative to the file's package (fastbp or a subpackage)
                pkg = ("fastbp",) + path.relative_to(PKG).parent.parts
                pkg = pkg[:len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ((base,) if base else ()))
            for a in node.names:
                t = _target(base, a.name)
                if not t:
                    continue
                mod, name = t
                uses.append(Use(path, node.lineno, mod, name, "import"))
                if name is None:
                    aliases[a.asname or a.name] = mod
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and _is_private(node.attr)):
            uses.append(Use(path, node.lineno, aliases[node.value.id], node.attr, "attribute"))
    return uses


_CY_FROM = re.compile(r"^[ \t]*from[ \t]+(fastbp(?:\.\w+)*)[ \t]+c?import[ \t]+"
                      r"(\([^)]*\)|[^\n#]*)", re.M)
_CY_IMPORT = re.compile(r"^[ \t]*c?import[ \t]+(fastbp(?:\.\w+)*)(?:[ \t]+as[ \t]+(\w+))?",
                        re.M)


def _cython_uses(path):
    """Every fastbp (c)import and private attribute use in a .pyx/.pxd file."""
    text = path.read_text(encoding="utf-8")
    uses = []
    aliases = {}

    def line(pos):
        return text.count("\n", 0, pos) + 1

    for m in _CY_FROM.finditer(text):
        names = m.group(2).strip().strip("()")
        for item in names.split(","):
            item = item.split("#")[0].strip()
            if not item:
                continue
            name, _, asname = item.partition(" as ")
            name, asname = name.strip(), asname.strip()
            t = _target(m.group(1), None if name == "*" else name)
            if t:
                uses.append(Use(path, line(m.start()), t[0], t[1], "import"))
                if t[1] is None and name != "*":
                    aliases[asname or name] = t[0]
    for m in _CY_IMPORT.finditer(text):
        t = _target(m.group(1))
        if t:
            uses.append(Use(path, line(m.start()), t[0], None, "import"))
            if m.group(2):
                aliases[m.group(2)] = t[0]
    for alias, mod in aliases.items():
        for m in re.finditer(rf"(?<![\w.]){re.escape(alias)}\.(_\w+)", text):
            if _is_private(m.group(1)):
                uses.append(Use(path, line(m.start()), mod, m.group(1), "attribute"))
    return uses


def _sources(pattern):
    return sorted(p for p in PKG.rglob(pattern) if "__pycache__" not in p.parts)


def _uses(kind):
    if kind == "python":
        files = _sources("*.py")
        return [(_module_of(f), u) for f in files for u in _python_uses(f)]
    files = _sources("*.pyx") + _sources("*.pxd")
    if not files:
        pytest.skip(f"no .pyx/.pxd files beside the compiled modules in {PKG}")
    return [(_module_of(f), u) for f in files for u in _cython_uses(f)]


def _violations(uses):
    """Messages for rules (b) and (c), and the import graph for (a)."""
    problems = []
    graph = {}
    for src, u in uses:
        for mod in (src, u.module):
            if mod not in LAYER:
                problems.append(f"{u.where()}: fastbp.{mod} is in no layer: add it to "
                                "LAYERS in tests/test_architecture.py")
        if src not in LAYER or u.module not in LAYER or u.module == src:
            continue
        graph.setdefault(src, set()).add(u.module)
        if LAYER[u.module] > LAYER[src]:
            problems.append(f"{u.where()}: fastbp.{src} imports fastbp.{u.module}, a higher "
                            "layer (upward import)")
        if u.name and _is_private(u.name) and LAYER[u.module] != LAYER[src] \
                and (src, u.module, u.name) not in ALLOWED_PRIVATE:
            problems.append(f"{u.where()}: fastbp.{src} uses fastbp.{u.module}'s private "
                            f"name {u.name!r} ({u.kind}); make it public in "
                            f"fastbp.{u.module} or go through a public function")
    return problems, graph


def _cycles(graph):
    """One cycle (list of modules) per strongly connected knot found by DFS."""
    found, state, stack = [], {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    return found


def _check(kind):
    uses = _uses(kind)
    assert uses, f"no fastbp imports found in {PKG}: is this the package's source?"
    problems, graph = _violations(uses)
    problems += ["import cycle: " + " -> ".join(f"fastbp.{m}" for m in c)
                 for c in _cycles(graph)]
    assert not problems, "\n".join(problems)


def test_python_modules_import_downward_only():
    _check("python")


def test_compiled_modules_import_downward_only():
    _check("cython")


def test_whole_graph_has_no_cycle():
    files = _sources("*.py") + _sources("*.pyx") + _sources("*.pxd")
    graph = {}
    for f in files:
        src = _module_of(f)
        for u in (_python_uses(f) if f.suffix == ".py" else _cython_uses(f)):
            if u.module != src:
                graph.setdefault(src, set()).add(u.module)
    assert not _cycles(graph), _cycles(graph)


def test_init_only_reexports():
    tree = ast.parse((PKG / "__init__.py").read_text(encoding="utf-8"))
    bad = []
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            continue                                   # the docstring
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if all(isinstance(t, ast.Name) and t.id in ("__all__", "__version__")
                   for t in targets):
                continue
        bad.append(f"__init__.py:{node.lineno}: {ast.dump(node)[:80]}")
    assert not bad, "fastbp/__init__.py must only re-export:\n" + "\n".join(bad)


def test_layers_cover_every_module():
    """Every module of the package is placed in a layer (so the rules apply to it)."""
    mods = {_module_of(p) for p in _sources("*.py") + _sources("*.pyx") + _sources("*.pxd")}
    missing = sorted(m for m in mods if m not in LAYER)
    assert not missing, f"add {missing} to LAYERS in tests/test_architecture.py"


def test_the_architecture_guide_lists_these_layers():
    """docs/architecture.md's layer table says "the test holds the same list": each
    row's modules (a ';' in a row separates layers, `.pxd` names count as modules)
    are LAYERS' groups, top first."""
    guide = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
    if not guide.is_file():
        pytest.skip("docs/architecture.md is not beside the tests (an installed test run)")
    text = guide.read_text(encoding="utf-8")
    table = text[text.index("| layer | modules | role |"):].split("\n\n")[0].splitlines()[2:]
    rows = []
    for line in table:
        modules = line.split("|")[2]
        for part in modules.split(";"):
            rows.append(sorted({m.split(".")[0] for m in re.findall(r"`([\w.]+)`", part)}))
    assert rows == [sorted(layer) for layer in LAYERS]
