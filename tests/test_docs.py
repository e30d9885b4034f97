"""The README and the OpenAPI description say what the code does.

The settings table lists exactly what ``Settings.from_env`` accepts, with the
code's defaults; the API's documents every error it can answer, and the
README's error list matches; every file the README names is in the tree.
"""

import ast
import importlib
import inspect
import json
import pkgutil
import re
import textwrap
from dataclasses import fields

import httpx
import pytest

from asgi import create_app
from cases.errors import SpeakupError
from cases.settings import Settings
from crypto.kdf import Argon2Params
from intake.openapi import ERRORS, SPEC
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()

# ---------------------------------------------------------------- settings


def settings_table() -> dict[str, str]:
    """The README's ``| variable | default | meaning |`` rows: variable -> default cell."""
    lines = README.splitlines()
    start = lines.index("| variable | default | meaning |")
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        variable, default = (cell.strip() for cell in line.strip("|").split("|")[:2])
        name = variable.strip("`")
        assert name not in rows, f"{name} is listed twice"
        rows[name] = default
    return rows


def accepted(name: str) -> bool:
    """Does ``Settings.from_env`` take ``name``? (A value it cannot convert still counts as taken.)"""
    try:
        Settings.from_env({name: "1"})
    except Exception as error:  # any failure but "unknown settings" means it was read
        return not str(error).startswith("unknown settings")
    return True


def candidate_names() -> set[str]:
    """Every name from_env could take: one per field, Argon2id's parameters, and each word its code spells out."""
    words = {f.name for f in fields(Settings) if f.name != "argon2"}
    words |= {f"argon2_{f.name}" for f in fields(Argon2Params)}
    source = textwrap.dedent(inspect.getsource(Settings.from_env))
    words |= {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"[a-z][a-z0-9_]*", node.value)
    }
    return {f"SPEAKUP_{word.upper()}" for word in words}


def test_the_settings_table_lists_exactly_what_from_env_accepts():
    documented = set(settings_table())
    assert all(accepted(name) for name in documented), [name for name in documented if not accepted(name)]
    in_code = {name for name in candidate_names() if accepted(name)}
    assert documented == in_code, f"missing from the README: {in_code - documented}; not in the code: {documented - in_code}"


def test_the_settings_table_prints_the_code_defaults():
    defaults = Settings()
    checked = 0
    for name, cell in settings_table().items():
        if cell == "unset":
            field_name = name.removeprefix("SPEAKUP_").lower()
            assert getattr(defaults, field_name) is None, f"{name}: the README says unset"
        elif re.fullmatch(r"`[^`]*`", cell):
            # The printed default, read as the environment would give it, changes nothing.
            assert Settings.from_env({name: cell.strip("`")}) == defaults, f"{name}: the README says {cell}"
            checked += 1
        # else a description such as "CPU count": no plain value to compare
    assert checked >= 15


def test_the_accepted_check_can_tell_a_typo():
    assert accepted("SPEAKUP_DATABASE_URL") and not accepted("SPEAKUP_DATABSE_URL")


# ---------------------------------------------------------------- errors

# Errors the reporter's API and the HR API never answer, and why. Any other error class
# must be in the OpenAPI description, so a new one is documented or listed here.
NOT_FROM_THE_API = {
    "cases.errors.SpeakupError": "the base class",
    "cases.auth.LoginFailed": "the staff login page",
    "cases.throttle.TooManyLogins": "the staff login page",
    "cases.errors.NoSuchCase": "staff pages: a case without a grant",
    "cases.errors.Forbidden": "staff pages: a role that may not",
    "cases.errors.WrongStatus": "staff workflow",
    "web.errors.NotLoggedIn": "staff pages",
    "web.errors.CsrfFailed": "forms; the API takes JSON and no cookies",
    "web.errors.MalformedBody": "forms (web.bodies.read_form); the API reads JSON",
}


def error_classes() -> dict[str, type[SpeakupError]]:
    """Every SpeakupError (subclass) that our packages define, by qualified name."""
    for package in ("cases", "web", "intake", "staff"):
        for module in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            importlib.import_module(module.name)
    found, todo = {}, [SpeakupError]
    while todo:
        cls = todo.pop()
        if cls.__module__.split(".")[0] in {"cases", "web", "intake", "staff"}:
            found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        todo += cls.__subclasses__()
    return found


def documented_errors(operation: dict) -> set[tuple[int, str]]:
    """(status, code) of each error an operation's responses allow."""
    pairs = set()
    for status, response in operation["responses"].items():
        if int(status) < 400:
            continue
        schema = response["content"]["application/json"]["schema"]
        assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}, status
        pairs |= {(int(status), code) for code in schema["allOf"][1]["properties"]["error"]["enum"]}
    return pairs


def operations() -> dict[str, dict]:
    return {f"{method.upper()} {path}": op for path, item in SPEC["paths"].items() for method, op in item.items()}


def takes_receipt(operation: dict) -> bool:
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return "receipt" in SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]


def test_every_error_the_api_can_answer_is_documented_with_its_status():
    classes = error_classes()
    assert set(NOT_FROM_THE_API) <= set(classes), f"no such error any more: {set(NOT_FROM_THE_API) - set(classes)}"
    by_operation = {name: documented_errors(op) for name, op in operations().items()}
    anywhere = set().union(*by_operation.values()) | {(e.status, e.code) for e in ERRORS}
    enum = set(SPEC["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    for name, cls in classes.items():
        if name in NOT_FROM_THE_API:
            continue
        assert (cls.status, cls.code) in anywhere, f"{name} ({cls.status} {cls.code}) is not in the OpenAPI description"
        assert cls.code in enum, f"{name}: {cls.code} is not in the Error schema's codes"


def test_each_operation_documents_the_errors_it_can_meet():
    from cases.errors import InvalidInput, InvalidReceipt, TooLarge, UnknownReceipt
    from cases.kdf_pool import Busy
    from web.errors import InvalidJSON, ServerError, Unauthorized, Unavailable

    every_request = [InvalidJSON, InvalidInput, TooLarge, Unavailable, ServerError]
    receipts = [InvalidReceipt, UnknownReceipt, Busy]
    for name, operation in operations().items():
        expected = [*every_request, *(receipts if takes_receipt(operation) else [])]
        if "/hr/" in name:
            expected.append(Unauthorized)
        missing = {(e.status, e.code) for e in expected} - documented_errors(operation)
        assert not missing, f"{name} does not document {missing}"
    assert sum(takes_receipt(op) for op in operations().values()) == 4


def test_the_spec_names_no_code_that_nothing_raises():
    codes = {cls.code for cls in error_classes().values()}
    enum = SPEC["components"]["schemas"]["Error"]["properties"]["error"]["enum"]
    assert set(enum) <= codes, f"documented but raised by nothing: {set(enum) - codes}"
    assert set(enum) == {e.code for e in ERRORS}


def test_the_readme_lists_the_same_error_codes_and_statuses_as_the_spec():
    paragraph = README[README.index("Errors are `{") :].split("\n\n")[0]
    listed = re.findall(r"`([a-z_]+)`\s+(\d{3})", paragraph)
    assert len(listed) == len(set(listed)), "a code is listed twice"
    in_readme, in_spec = {(code, int(status)) for code, status in listed}, {(e.code, e.status) for e in ERRORS}
    assert in_readme == in_spec, f"missing from the README: {in_spec - in_readme}; not in the spec: {in_readme - in_spec}"


async def test_the_served_description_is_the_spec(tmp_path):
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db", data_dir=tmp_path))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://speakup.test") as client:
            response = await client.get("/api/v1/openapi.json")
    finally:
        await app.state.ctx.close()
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(SPEC))


# ---------------------------------------------------------------- files


# Made when the code runs, not part of the tree.
GENERATED = {"var", "test-artifacts", ".venv", ".git"}


def named_files() -> set[str]:
    """Paths into the tree that the README names in code spans (`docs/x.md`, `.ci/run`), and `test_*.py` (in tests/)."""
    top = {path.name for path in ROOT.iterdir()} - GENERATED
    spans = re.findall(r"`([^`\s]+)`", README)
    paths = {span for span in spans if "/" in span and span.split("/")[0] in top}
    paths |= {f"tests/{span}" for span in spans if re.fullmatch(r"test_\w+\.py", span)}
    return paths


def test_the_readme_names_only_files_inside_the_repository():
    assert "../" not in README
    named = named_files()
    assert {"docs/performance.md", ".ci/run", "tests/test_at_rest.py"} <= named
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"the README names files that are not in the tree: {missing}"


@pytest.mark.parametrize("name", ["asgi.py", "cli.py", "intake/", "staff/", "web/", "cases/", "crypto/", "templates/"])
def test_the_layout_names_each_part_of_the_tree(name):
    block = README[README.index("## Layout") :].split("```")[1]
    assert re.search(rf"^{re.escape(name)}\s", block, re.MULTILINE), f"{name} is missing from the Layout"
    assert (ROOT / name).exists()
