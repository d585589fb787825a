"""`make docs-check` (tools/docs.py): each kind of stale or dangling documentation fails it.

The rule-number checks run on a small repository built in a temporary folder, with rules of its
own, so they test the check and not the state of this repository's documents; the diagrams are
compared with the real models. Rule numbers below are assembled from parts ("R-" + …) so that the
scan of this repository does not take this file's plants for citations.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("docs_tool", ROOT / "tools" / "docs.py")
docs = sys.modules.setdefault("docs_tool", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(docs)

R = "R-"
BUILT, NOT_BUILT, UNKNOWN = R + "TST-1", R + "TST-2", R + "ZZZ-9"

RULES_TOML = f"""
intro = "The rules of a small test repository."

[[sections]]
number = 1
title = "Testing"

[rules."{BUILT}"]
section = 1
title = "A built rule"
text = "Something the code does."

[rules."{NOT_BUILT}"]
section = 1
title = "A rule not built yet"
text = "Something the code will do."
missing = "all of it"
"""


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A tiny repository whose documents are fresh: `check` finds nothing."""
    write(tmp_path, "docs/rules.toml", RULES_TOML)
    write(tmp_path, "shop/services.py", f'def sell():\n    """Sells ({BUILT})."""\n')
    write(tmp_path, "tests/test_shop.py", f'def test_sells():\n    """{BUILT}"""\n    assert True\n')
    write(tmp_path, "README.md", f"Read [the rule](docs/rules.md#{BUILT}) and [§1](docs/rules.md#1-testing).\n")
    docs.build(tmp_path, diagrams=False)
    return tmp_path


def problems(root: Path) -> list[str]:
    return docs.check(root, diagrams=False)


def rebuilt_problems(root: Path) -> list[str]:
    """What is left after `make docs`: only what a person must fix by hand."""
    docs.build(root, diagrams=False)
    return problems(root)


def test_a_fresh_repository_passes(repo):
    assert problems(repo) == []
    assert docs.main(["check", "--root", str(repo), "--no-diagrams"]) == 0


def test_the_generated_rules_page_names_enforcement_and_tests(repo):
    docs.build(repo, diagrams=False)
    page = (repo / "docs/rules.md").read_text()
    assert "- Enforced in: [shop/services.py](../shop/services.py) (`sell`)" in page
    assert "- Tested in: [tests/test_shop.py](../tests/test_shop.py) (1 test)" in page
    assert "## Not yet built" in page and "**Missing:** all of it" in page


def test_a_planted_dangling_rule_number_fails_the_check(repo):
    docs.build(repo, diagrams=False)
    write(repo, "shop/planted.py", f"# {UNKNOWN}: a rule nobody wrote down\n")
    found = rebuilt_problems(repo)
    assert found == [
        f"{UNKNOWN} is cited in shop/planted.py but is not a rule of docs/rules.md (define it in docs/rules.toml)"
    ]
    assert docs.main(["check", "--root", str(repo), "--no-diagrams"]) == 1


def test_a_dangling_rule_number_in_a_test_or_in_prose_fails_too(repo):
    write(repo, "tests/test_more.py", f"# {UNKNOWN}\n")
    write(repo, "NOTES.md", f"See {R}ZZZ-8.\n")
    found = rebuilt_problems(repo)
    assert any(p.startswith(f"{UNKNOWN} is cited in tests/test_more.py") for p in found)
    assert any(p.startswith(f"{R}ZZZ-8 is cited in NOTES.md") for p in found)


def test_a_short_form_citing_several_rules_cites_each(repo):
    write(repo, "shop/more.py", f"# {R}TST-1…3 and {R}TST-1/4\n")
    found = " ".join(rebuilt_problems(repo))
    assert f"{R}TST-3 is cited" in found and f"{R}TST-4 is cited" in found


def test_a_rule_not_yet_built_that_the_code_cites_fails_until_moved(repo):
    write(repo, "shop/refunds.py", f"# {NOT_BUILT}: refunds\n")
    assert any(
        p.startswith(f"{NOT_BUILT} is listed as not yet built but is cited in shop/refunds.py")
        for p in rebuilt_problems(repo)
    )
    # Moved out of "not yet built" (its `missing` line removed), it needs a test as every built rule does.
    toml = (repo / "docs/rules.toml").read_text().replace('missing = "all of it"\n', "")
    (repo / "docs/rules.toml").write_text(toml, encoding="utf-8")
    assert rebuilt_problems(repo) == [f"{NOT_BUILT} has no test location (no file under tests/ cites it)"]
    write(repo, "tests/test_refunds.py", f"def test_refunds():\n    # {NOT_BUILT}\n    assert True\n")
    assert rebuilt_problems(repo) == []


def test_a_rule_without_enforcement_or_without_a_test_fails(repo):
    (repo / "tests/test_shop.py").write_text("def test_sells():\n    assert True\n", encoding="utf-8")
    assert rebuilt_problems(repo) == [f"{BUILT} has no test location (no file under tests/ cites it)"]
    (repo / "shop/services.py").write_text("def sell():\n    pass\n", encoding="utf-8")
    write(repo, "tests/test_shop.py", f"# {BUILT}\n")
    assert rebuilt_problems(repo) == [f"{BUILT} has no enforcement location (no file outside tests/ cites it)"]


def test_a_mention_in_prose_is_no_enforcement(repo):
    (repo / "shop/services.py").write_text("def sell():\n    pass\n", encoding="utf-8")
    write(repo, "README.md", f"The shop keeps {BUILT}.\n")
    assert rebuilt_problems(repo) == [f"{BUILT} has no enforcement location (no file outside tests/ cites it)"]


def test_a_hand_edit_of_the_generated_page_is_stale(repo):
    docs.build(repo, diagrams=False)
    page = repo / "docs/rules.md"
    page.write_text(page.read_text().replace("Something the code does.", "Something else."), encoding="utf-8")
    assert problems(repo) == [
        "docs/rules.md is stale: the code's citations or docs/rules.toml changed (run `make docs`)"
    ]


@pytest.mark.parametrize(
    ("link", "complaint"),
    [
        ("[x](docs/nowhere.md)", "README.md: link to docs/nowhere.md: no such file in the repository"),
        ("[x](../outside.md)", "README.md: link to ../outside.md leaves the repository"),
        (
            "[x](docs/rules.md#no-such-heading)",
            "README.md: link to docs/rules.md#no-such-heading: no heading or anchor",
        ),
        ("[x](#missing)", "README.md: link to #missing: no heading or anchor"),
    ],
)
def test_a_dangling_link_fails(repo, link, complaint):
    docs.build(repo, diagrams=False)
    write(repo, "README.md", f"# Shop\n\nRead {link}.\n")
    found = problems(repo)
    assert len(found) == 1 and found[0].startswith(complaint)


def test_links_inside_code_and_to_the_web_are_not_checked(repo):
    docs.build(repo, diagrams=False)
    write(
        repo, "README.md", "# Shop\n\n[web](https://example.org/x.md) `[x](nowhere.md)`\n\n```\n[y](nowhere.md)\n```\n"
    )
    assert problems(repo) == []


# --- state-machine diagrams --------------------------------------------------------------------------
def test_the_committed_state_machine_diagrams_are_drawn_from_the_code():
    """The DOT files in docs/diagrams are what django-fsm-2's graph command draws from the models
    now, and each SVG was drawn from its DOT file."""
    assert docs.diagram_problems(ROOT, docs.diagrams_dot()) == []


def test_a_changed_transition_makes_a_diagram_stale(tmp_path):
    fresh = docs.diagrams_dot()
    folder = tmp_path / docs.DIAGRAM_DIR
    folder.mkdir(parents=True)
    for name, source in fresh.items():
        (folder / name).write_text(source, encoding="utf-8")
        stamp = f"<svg><!-- source-sha256: {docs._sha(source)} --></svg>"
        (folder / name).with_suffix(".svg").write_text(stamp, encoding="utf-8")
    assert docs.diagram_problems(tmp_path, fresh) == []

    name = "admissions.Offer.state.dot"
    assert "[label=accept]" in fresh[name]
    changed = dict(fresh, **{name: fresh[name].replace("[label=accept]", "[label=take]")})
    assert docs.diagram_problems(tmp_path, changed) == [
        f"docs/diagrams/{name} is stale: the code's transitions changed (run `make docs`)"
    ]
    # A DOT file redrawn by hand without its SVG is caught too.
    (folder / name).write_text(changed[name], encoding="utf-8")
    assert docs.diagram_problems(tmp_path, changed) == [
        f"docs/diagrams/admissions.Offer.state.svg was not drawn from {name} as it is now (run `make docs`)"
    ]


def test_the_diagrams_come_out_the_same_on_every_run():
    """django-fsm-2 collects edges in sets; the generated text must not depend on hash order."""
    source = docs.diagrams_dot()["admissions.Application.state.dot"]
    shuffled = source.splitlines()
    body = [line for line in shuffled if line.strip().startswith('"')]
    others = [line for line in shuffled if not line.strip().startswith('"')]
    reordered = "\n".join(others[:-2] + list(reversed(body)) + others[-2:]) + "\n"
    assert docs.stable_dot(reordered) == source


def test_a_document_naming_a_moved_file_or_a_renamed_function_fails(repo):
    write(repo, "docs/guide.md", "# Guide\n\nSales: `sell` in `shop/services.py`, all in `shop/`.\n")
    assert problems(repo) == []
    write(repo, "docs/guide.md", "# Guide\n\n`sell`, `refund` in `shop/services.py`; `shop/refunds.py`; `shop/*.py`.\n")
    assert problems(repo) == [
        "docs/guide.md: `shop/refunds.py` is not in the repository",
        "docs/guide.md: `refund` is not defined in `shop/services.py`",
    ]


def test_a_file_that_only_names_a_rule_not_yet_built_may_be_listed_and_no_other(repo):
    write(repo, "shop/report.py", f"# Refunds ({NOT_BUILT}) are not recorded yet: shown as 0.\n")
    assert any(
        p.startswith(f"{NOT_BUILT} is listed as not yet built but is cited in shop/report.py")
        for p in rebuilt_problems(repo)
    )
    toml = (
        (repo / "docs/rules.toml")
        .read_text()
        .replace('missing = "all of it"\n', 'missing = "all of it"\nmentioned_in = ["shop/report.py"]\n')
    )
    (repo / "docs/rules.toml").write_text(toml, encoding="utf-8")
    assert rebuilt_problems(repo) == []
    assert "- Named, not carried out, in: [shop/report.py](../shop/report.py)" in (repo / "docs/rules.md").read_text()
    write(repo, "shop/refunds.py", f"# {NOT_BUILT}\n")  # a second file is not covered by the first's listing
    assert [p for p in rebuilt_problems(repo) if NOT_BUILT in p] == [
        f"{NOT_BUILT} is listed as not yet built but is cited in shop/refunds.py: "
        "remove its `missing` line in docs/rules.toml (and say what is built), then `make docs`"
    ]
    (repo / "shop/refunds.py").unlink()
    (repo / "shop/report.py").write_text("# Refunds are not recorded yet.\n", encoding="utf-8")
    assert rebuilt_problems(repo) == [
        f"docs/rules.toml: {NOT_BUILT} lists shop/report.py in `mentioned_in`, which does not cite it"
    ]


def test_the_apps_import_table_is_regenerated_and_a_new_import_makes_it_stale(repo):
    write(repo, "shop/apps.py", "")
    write(repo, "stock/apps.py", "")
    write(repo, "stock/models.py", "x = 1\n")
    block = "<!-- generated:app-dependencies (make docs) -->\n<!-- /generated:app-dependencies -->"
    write(repo, "docs/architecture.md", f"# Architecture\n\n{block}\n")
    docs.build(repo, diagrams=False)
    table = (repo / "docs/architecture.md").read_text()
    assert "| `stock` | nothing of ours |" in table and "| `shop` | nothing of ours |" in table
    assert problems(repo) == []
    write(repo, "shop/services.py", f'from stock.models import x\n\n\ndef sell():\n    """{BUILT}"""\n')
    assert problems(repo) == ["docs/architecture.md: a generated part is stale (run `make docs`)"]
    docs.build(repo, diagrams=False)
    assert "| `shop` | `stock` (1) |" in (repo / "docs/architecture.md").read_text()
