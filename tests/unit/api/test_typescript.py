"""The study app's TypeScript interfaces type-check against the OpenAPI schema the API publishes (issue #15, item 2).

How: ``americano api openapi`` writes the schema to a temporary directory, openapi-typescript (pinned in
tests/typescript/package-lock.json) generates its types, and ``tsc --noEmit --strict`` compiles
tests/typescript/check.ts, which asserts that every app request (tests/typescript/app_types.ts) is assignable to the
body the API accepts and sends no field it does not know, and that every 200 answer the API publishes is assignable
to the app's interface (required fields required, tuples as tuples; the one documented exception, two numbers the
API may answer null, is explained in check.ts). The second test proves the check can fail: broken variants of the
schema and of the app's interfaces, all compiled in one tsc run, each must fail naming its field.

The toolchain comes from tests/typescript/package-lock.json: ``npm ci`` into tests/typescript/node_modules (ignored
by git) the first time, and again whenever the lock file changes. Node.js 20+ and npm must be on PATH (no skip: the
check is part of the contract with the app).
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TYPESCRIPT = Path(__file__).resolve().parents[2] / "typescript"
NODE_MODULES = TYPESCRIPT / "node_modules"
STAMP = NODE_MODULES / ".americano-package-lock.sha256"
MODULE = "api-openapi"  # the module check.ts imports the generated types from (tsconfig paths)
IMPORT = f'from "{MODULE}";'
PREFIX = "/api/analytics/research"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found on PATH: the TypeScript check of the app's interfaces needs Node.js 20+ and npm "
                    "(e.g. apt-get install nodejs npm)", pytrace=False)
    return found


def _run(args: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if done.returncode != 0 and what:
        pytest.fail(f"{what} failed (exit {done.returncode}): {' '.join(args)}\n{done.stdout}\n{done.stderr}",
                    pytrace=False)
    return done


@pytest.fixture(scope="module")
def node() -> str:
    """node, once tests/typescript/node_modules holds exactly what package-lock.json pins."""
    npm, node = _tool("npm"), _tool("node")
    digest = hashlib.sha256((TYPESCRIPT / "package-lock.json").read_bytes()).hexdigest()
    directory = os.open(TYPESCRIPT, os.O_RDONLY)  # one installer at a time (two test runs on one clone)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        if not STAMP.is_file() or STAMP.read_text() != digest:
            _run([npm, "ci", "--prefix", str(TYPESCRIPT), "--ignore-scripts", "--no-audit", "--no-fund",
                  "--loglevel=error"], "npm ci (tests/typescript)", timeout=600)
            STAMP.write_text(digest)
    finally:
        os.close(directory)
    return node


@pytest.fixture(scope="module")
def published() -> dict:
    """The schema exactly as ``americano api openapi`` prints it."""
    printed = _run([sys.executable, "-m", "americano_pipeline.cli", "api", "openapi"], "americano api openapi").stdout
    return json.loads(printed)


def _generate(node: str, pairs: list[tuple[Path, Path]]) -> None:
    _run([node, str(TYPESCRIPT / "generate.mjs"), *(str(p) for pair in pairs for p in pair)],
         "openapi-typescript (tests/typescript/generate.mjs)")


def _tsc(node: str, config: Path, cwd: Path) -> subprocess.CompletedProcess:
    """tsc's verdict; it names files relative to ``cwd``."""
    return _run([node, str(NODE_MODULES / "typescript" / "bin" / "tsc"), "--noEmit", "--strict", "--pretty", "false",
                 "-p", str(config)], "", cwd=cwd, timeout=300)


def test_the_apps_interfaces_type_check_against_the_published_schema(node, published, tmp_path):
    schema, types = tmp_path / "openapi.json", tmp_path / "openapi.ts"
    schema.write_text(json.dumps(published))
    _generate(node, [(schema, types)])
    config = tmp_path / "tsconfig.json"
    config.write_text(json.dumps({"extends": str(TYPESCRIPT / "tsconfig.json"),
                                  "compilerOptions": {"paths": {MODULE: [str(types)]}},
                                  "files": [str(TYPESCRIPT / "check.ts")]}))
    done = _tsc(node, config, TYPESCRIPT)
    assert done.returncode == 0, f"tsc found the app's interfaces and the published schema differ:\n{done.stdout}" \
                                 f"{done.stderr}"


# ---- the check can fail ----------------------------------------------------------------------------------------

def _schemas(schema: dict) -> dict:
    return schema["components"]["schemas"]


def _set(name: str, field: str, value: dict) -> Callable[[dict], None]:
    return lambda schema: _schemas(schema)[name]["properties"].__setitem__(field, value)


def _not_required(name: str, field: str) -> Callable[[dict], None]:
    return lambda schema: _schemas(schema)[name]["required"].remove(field)


def _required(name: str, field: str) -> Callable[[dict], None]:
    return lambda schema: _schemas(schema)[name]["required"].append(field)


def _dropped(name: str, field: str) -> Callable[[dict], None]:
    def drop(schema: dict) -> None:
        _schemas(schema)[name]["properties"].pop(field)
        if field in _schemas(schema)[name].get("required", []):
            _schemas(schema)[name]["required"].remove(field)
    return drop


def _renamed(name: str, field: str, new: str) -> Callable[[dict], None]:
    def rename(schema: dict) -> None:
        component = _schemas(schema)[name]
        component["properties"][new] = component["properties"].pop(field)
        component["required"] = [new if f == field else f for f in component["required"]]
    return rename


def _app(old: str, new: str) -> Callable[[str], str]:
    def edit(source: str) -> str:
        assert source.count(old) == 1, f"app_types.ts no longer has exactly one {old!r}: update this variant"
        return source.replace(old, new)
    return edit


def _named(field: str) -> str:
    """tsc naming a field: quoted, alone or as the end of a dotted path ('causalEffect.hdi95'), not merely printed
    inside a type."""
    return rf"'\"?(?:[\w\[\]]+\.)*{re.escape(field)}\"?'"


# (name, change to the published schema, change to app_types.ts, what tsc's errors must match)
VARIANTS: list[tuple[str, Callable[[dict], None] | None, Callable[[str], str] | None, str]] = [
    ("hdi95 a plain array", _set("CausalEffect", "hdi95", {"type": "array", "items": {"type": "number"}}), None,
     _named("hdi95")),
    ("hdi95 a tuple of three", _set("CausalEffect", "hdi95", {"type": "array", "prefixItems": [{"type": "number"}] * 3,
                                                             "minItems": 3, "maxItems": 3}), None, _named("hdi95")),
    ("a response field optional", _not_required("Diagnostics", "ess_tail"), None, _named("ess_tail")),
    ("a field of a listed item optional", _not_required("Boundary", "alphaSpent"), None, _named("alphaSpent")),
    ("a response field renamed", _renamed("CausalEffect", "probability_positive", "probabilityPositive"), None,
     _named("probability_positive")),
    ("a response field of another type",
     _set("Counterfactual", "dates", {"type": "array", "items": {"type": "number"}}), None, _named("dates")),
    ("a new null in a response", _set("SequentialResponse", "warning", {"anyOf": [{"type": "string"},
                                                                                  {"type": "null"}]}), None,
     _named("warning")),
    ("the effectSize exception gone stale", _set("RandomizationResponse", "effectSize", {"type": "number"}), None,
     "'\"effectSize is never null now"),
    ("the percentChange exception gone stale", _set("ChangePoint", "percentChange", {"type": "number"}), None,
     "'\"changePoints\\[\\]\\.percentChange is never null now"),
    ("an optional request field required", _required("RandomizationRequest", "nPermutations"), None,
     _named("nPermutations")),
    ("a request field the API does not know", _dropped("ChangePointsRequest", "minSegmentLength"), None,
     _named("minSegmentLength")),
    ("a nested request field the API does not know", _dropped("PriorParams", "effectSd"), None,
     _named("priorParams.effectSd")),
    ("a request enum narrowed", _set("SequentialRequest", "spendingFunction", {"type": "string", "enum": ["pocock"]}),
     None, _named("spendingFunction")),
    ("an endpoint gone", lambda schema: schema["paths"].pop(f"{PREFIX}/change-points"), None,
     re.escape(f"'\"{PREFIX}/change-points\"' does not satisfy the constraint")),
    ("the app's spendingFunction a string (the issue's text)", None,
     _app("spendingFunction: SpendingFunction;", "spendingFunction: string;"), _named("spendingFunction")),
    ("the app misspells an optional field", None, _app("nPermutations?: number;", "nPermutation?: number;"),
     _named("nPermutation")),
    ("the app reads a field the API does not publish", None, _app("probability_positive: number;",
                                                                  "probability_positive: number;\n    median: number;"),
     _named("median")),
]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@pytest.fixture(scope="module")
def broken(node, published, tmp_path_factory) -> dict[str, list[str]]:
    """tsc's errors for each variant (one tsc run over all of them), by variant name."""
    root = tmp_path_factory.mktemp("broken")
    check = (TYPESCRIPT / "check.ts").read_text()
    assert check.count(IMPORT) == 1
    app_types = (TYPESCRIPT / "app_types.ts").read_text()
    pairs, files = [], []
    for name, schema_change, app_change, _ in VARIANTS:
        directory = root / _slug(name)
        directory.mkdir()
        schema = copy.deepcopy(published)
        if schema_change:
            schema_change(schema)
        (directory / "openapi.json").write_text(json.dumps(schema))
        pairs.append((directory / "openapi.json", directory / "openapi.ts"))
        (directory / "check.ts").write_text(check.replace(IMPORT, 'from "./openapi";'))
        (directory / "app_types.ts").write_text(app_change(app_types) if app_change else app_types)
        files.append(str(directory / "check.ts"))
    _generate(node, pairs)
    config = root / "tsconfig.json"
    config.write_text(json.dumps({"extends": str(TYPESCRIPT / "tsconfig.json"), "files": files}))
    output = _tsc(node, config, root).stdout
    errors: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=\S)", output.strip()):  # an error, then its indented elaboration
        match = re.match(r"([^/\s]+)/check\.ts\(\d+,\d+\): error TS\d+", block)
        errors.setdefault(match.group(1) if match else "", []).append(block)
    assert "" not in errors, f"tsc errors outside the variants:\n{output}"
    return errors


@pytest.mark.parametrize("name, naming", [(name, naming) for name, _, _, naming in VARIANTS],
                         ids=[_slug(name) for name, *_ in VARIANTS])
def test_the_check_fails_naming_the_field_on_a_broken_variant(broken, name, naming):
    errors = broken.get(_slug(name))
    assert errors, f"{name}: tsc compiled check.ts, the check did not catch it"
    text = "\n".join(errors)
    assert re.search(naming, text), f"{name}: tsc failed without naming the field ({naming}):\n{text}"
