"""The package's layers: each module imports only the layers below it (imports inside
functions included), only the command-line room uses argparse, and the pipeline's internals
are used by the public front, the jobs library and the command lines only.

Layers, low to high (docs/ARCHITECTURE.md)::

    errors, checks, names, jit -> io -> prep / engine / post / sim / image_processing / data_management
    -> params, pipeline -> reconstruction -> jobs -> cli

``alsmicroct.apps``, ``alsmicroct.distributed``, ``alsmicroct.data_management.cli`` and
``alsmicroct.sim.__main__`` are compatibility re-exports of the command lines (one release);
they may import anything, and nothing in the library may import them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "alsmicroct"

# rank of each top-level part of the package (alsmicroct.<part>)
RANKS = {
    "errors": 0,
    "checks": 0,
    "jit": 0,
    "names": 0,
    "io": 1,
    "memory": 1,
    "prep": 2,
    "engine": 2,
    "post": 2,
    "sim": 2,
    "image_processing": 2,
    "data_management": 2,
    "testing": 2,
    "params": 3,
    "pipeline": 3,
    "reconstruction": 4,
    "jobs": 5,
    "cli": 6,
}
COMPAT = {"alsmicroct.apps", "alsmicroct.distributed", "alsmicroct.data_management.cli", "alsmicroct.sim.__main__"}
TOP = "alsmicroct"  # the package's __init__: lazy public front, may name any layer
PIPELINE_USERS = {"pipeline", "reconstruction", "jobs", "cli"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every module ``path`` imports (absolute names), with line numbers, at any depth."""
    text = path.read_text(encoding="utf-8") if source is None else source
    tree = ast.parse(text, filename=str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            # "from . import engine" names a module too
            out += [
                (node.lineno, f"{mod}.{alias.name}")
                for alias in node.names
                if (ROOT.parent / f"{mod}.{alias.name}".replace(".", "/")).with_suffix(".py").exists()
                or (ROOT.parent / f"{mod}.{alias.name}".replace(".", "/")).is_dir()
            ]
    return out


def _compat(module: str) -> bool:
    return any(module == c or module.startswith(c + ".") for c in COMPAT)


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == TOP and len(parts) > 1 else None


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def layer_problems(files: list[Path] | None = None, *, source: str | None = None) -> list[str]:
    """Every import that breaks the layering rules, as ``file:line: what`` (``source``: the text
    of the one file given, instead of reading it)."""
    problems = []
    for path in files or _modules():
        module = _module_name(path)
        if module == TOP or _compat(module):
            continue
        own = _part(module)
        if own not in RANKS:
            problems.append(f"{path}: alsmicroct.{own} has no layer (add it to RANKS and docs/ARCHITECTURE.md)")
            continue
        for line, target in _imports(path, source):
            where = f"{path.relative_to(ROOT.parent)}:{line}"
            if target == "argparse" and own != "cli":
                problems.append(f"{where}: argparse outside alsmicroct.cli")
            other = _part(target)
            if target.split(".")[0] != TOP or other is None:
                continue
            if _compat(target):
                problems.append(f"{where}: imports the compatibility module {target}")
            elif other not in RANKS:
                problems.append(f"{where}: imports {target}, which has no layer")
            elif RANKS[other] > RANKS[own]:
                problems.append(f"{where}: {module} (layer {RANKS[own]}) imports {target} (layer {RANKS[other]})")
            elif other == "pipeline" and own not in PIPELINE_USERS:
                problems.append(f"{where}: {module} uses the pipeline's internals ({target})")
    return problems


def test_no_upward_imports():
    problems = layer_problems()
    assert not problems, "layering broken:\n" + "\n".join(problems)


def test_every_part_has_a_layer():
    parts = {
        p.name if p.is_dir() else p.stem
        for p in ROOT.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")
    }
    missing = parts - set(RANKS) - {c.split(".")[1] for c in COMPAT if c.count(".") == 1}
    assert not missing, f"parts of the package without a layer: {sorted(missing)}"


@pytest.mark.parametrize(
    "line",
    [
        "from ..reconstruction import recon",  # io -> the public front
        "from alsmicroct.cli._common import guarded_main",
        "from ..pipeline.plan import make_plan",
        "import argparse",
    ],
)
def test_a_deliberate_upward_import_is_caught(line):
    """The checker itself: an upward import planted (inside a function) in io is reported."""
    probe = ROOT / "io" / "_layer_probe.py"
    problems = layer_problems([probe], source=f"def f():\n    {line}\n")
    assert problems and "_layer_probe.py:2" in problems[0], problems


def test_no_importorskip_of_own_modules():
    """A broken module of the project must fail its tests, not skip them."""
    tests = Path(__file__).parent
    offenders = [
        f"{p.name}:{n}"
        for p in sorted(tests.glob("*.py"))
        if p.name != Path(__file__).name
        for n, text in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "importorskip(" in text and "alsmicroct" in text
    ]
    assert not offenders, offenders


#: the project's rule: no module of the package reaches this many lines
MAX_MODULE_LINES = 800


def test_modules_stay_under_800_lines():
    long = {
        str(p.relative_to(ROOT.parent)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) >= MAX_MODULE_LINES
    }
    assert not long, f"modules of {MAX_MODULE_LINES} lines or more (split them): {long}"
