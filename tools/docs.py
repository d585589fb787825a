"""The documentation's generated parts and their check (`make docs`, `make docs-check`).

    python tools/docs.py build    rewrite docs/rules.md and the state-machine diagrams
    python tools/docs.py check    exit 1, listing every problem, when the documents are not fresh

docs/rules.md is written from docs/rules.toml (each rule in the project's own words, written by
hand) and a scan of the repository for rule numbers: a file outside tests/ that cites a rule is
where it is enforced, a file under tests/ is where it is tested. The check fails on:

- a rule number cited anywhere in the repository that docs/rules.toml does not define;
- a rule that is not marked as not yet built but has no enforcement or no test location;
- a rule marked as not yet built that the code or the tests cite (move it out: remove `missing`),
  except in the files its `mentioned_in` lists (those that only say it is not built);
- docs/rules.md or a diagram that differs from what `build` would write now;
- a link in a Markdown file that does not resolve to a file (and heading) inside the repository;
- a file named in docs/*.md that is not in the repository, or a function said to be in a file
  ("`queue_walk` in `admissions/selectors.py`") that the file does not define;
- a generated block of docs/architecture.md (the apps' imports) that differs from the code.

The diagrams are drawn by django-fsm-2's graph command (its `generate_dot`), one per state field,
as DOT source in a stable order; the SVG beside each is rendered by Graphviz's `dot` and carries
the SHA-256 of the DOT it was drawn from, so the check needs neither `dot` nor byte-equal SVGs.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import hashlib
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES_SOURCE = "docs/rules.toml"
RULES_DOC = "docs/rules.md"
DIAGRAM_DIR = "docs/diagrams"

# A rule number, and the short forms that cite several at once: "R-APP-1…8", "R-ALLOC-1/2".
RULE = re.compile(r"\bR-([A-Z]+)-(\d+)((?:(?:…|\.\.|/)\d+)*)(?![\w-])")
NOT_SCANNED_DIRS = ("node_modules/", ".git/", ".venv/", "static/vendor/", "artifacts/", DIAGRAM_DIR + "/")
NOT_SCANNED_SUFFIXES = (".mo", ".png", ".jpg", ".svg", ".ico", ".woff", ".woff2", ".sqlite3", ".xlsx", ".pdf", ".lock")
NOT_SCANNED_FILES = ("package-lock.json",)
NOT_SCANNED_PATHS = (RULES_SOURCE, RULES_DOC)  # the rules themselves: every number is defined there
# Files that mention rules without enforcing them: prose, translations, CI and build scripts.
MENTION_ONLY_SUFFIXES = (".md", ".po", ".pot")
MENTION_ONLY_PREFIXES = (".ci/",)
MENTION_ONLY_FILES = ("Makefile", "Dockerfile", "docker-compose.yml", "pyproject.toml")


# --- scanning the repository ----------------------------------------------------------------------
def repository_files(root: Path) -> list[str]:
    """Tracked files and untracked ones that are not ignored (a fresh clone holds exactly the
    first; a planted file counts before it is committed). Outside git: every file on disk."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            check=True,
            capture_output=True,
        ).stdout.decode()
        inside_git = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"], check=True, capture_output=True, text=True
        ).stdout.strip() == str(root.resolve())
    except (OSError, subprocess.CalledProcessError):
        inside_git = False
    if inside_git:
        names = [n for n in out.split("\0") if n]
    else:
        names = [
            str(Path(dirpath, f).relative_to(root))
            for dirpath, dirnames, filenames in os.walk(root)
            for f in filenames
            if ".git" not in Path(dirpath).parts
        ]
    return sorted(n for n in set(names) if (root / n).is_file())


def scanned(name: str) -> bool:
    return not (
        name.startswith(NOT_SCANNED_DIRS)
        or "/node_modules/" in name
        or "__pycache__" in name
        or name.endswith(NOT_SCANNED_SUFFIXES)
        or Path(name).name in NOT_SCANNED_FILES
        or name in NOT_SCANNED_PATHS
    )


def kind_of(name: str) -> str:
    """ "tests", "code" (enforcement) or "mention"."""
    if name.startswith("tests/"):
        return "tests"
    if name.endswith(MENTION_ONLY_SUFFIXES) or name.startswith(MENTION_ONLY_PREFIXES) or name in MENTION_ONLY_FILES:
        return "mention"
    return "code"


def rule_numbers(text: str) -> list[tuple[int, str]]:
    """(line number, rule) for every rule cited, short forms expanded."""
    found = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for match in RULE.finditer(line):
            prefix, first, rest = match.group(1), int(match.group(2)), match.group(3)
            numbers = [first]
            for sep, n in re.findall(r"(…|\.\.|/)(\d+)", rest):
                n = int(n)
                if sep == "/":
                    numbers.append(n)
                else:
                    numbers.extend(range(numbers[-1] + 1, n + 1))
            found.extend((lineno, f"R-{prefix}-{n}") for n in numbers)
    return found


def python_scopes(text: str) -> dict[int, str]:
    """line → the innermost function or class around it (`Class.method`), for Python files."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    scopes: dict[int, str] = {}

    def visit(node: ast.AST, outer: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{outer}.{child.name}" if outer else child.name
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                for line in range(start, (child.end_lineno or child.lineno) + 1):
                    scopes[line] = name
                visit(child, name)
            else:
                visit(child, outer)

    visit(tree, "")
    return scopes


@dataclass
class Citations:
    code: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # rule → file → scopes
    tests: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # rule → file → test names
    anywhere: dict[str, set[str]] = field(default_factory=dict)  # rule → files (any kind)


def citations(root: Path) -> Citations:
    result = Citations()
    for name in repository_files(root):
        if not scanned(name):
            continue
        try:
            text = (root / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        cited = rule_numbers(text)
        if not cited:
            continue
        kind = kind_of(name)
        scopes = python_scopes(text) if name.endswith(".py") and kind != "mention" else {}
        for lineno, rule in cited:
            result.anywhere.setdefault(rule, set()).add(name)
            if kind == "mention":
                continue
            where = result.code if kind == "code" else result.tests
            symbols = where.setdefault(rule, {}).setdefault(name, set())
            scope = scopes.get(lineno)
            if scope and (kind == "code" or scope.split(".")[-1].startswith("test")):
                symbols.add(scope)
    return result


# --- the rules document ---------------------------------------------------------------------------
@dataclass
class Rule:
    number: str
    section: str
    title: str
    text: str
    missing: str = ""
    # Files that name a rule not built yet only to say so (a report showing "not recorded yet"):
    # allowed one by one, so any other citation still fails the check.
    mentioned_in: tuple[str, ...] = ()
    partly: str = ""

    @property
    def sort_key(self) -> tuple:
        prefix, n = self.number.rsplit("-", 1)
        return (prefix, int(n))


@dataclass
class RuleBook:
    sections: list[dict]
    rules: dict[str, Rule]
    intro: str


def load_rules(root: Path) -> RuleBook:
    data = tomllib.loads((root / RULES_SOURCE).read_text(encoding="utf-8"))
    rules = {}
    for number, body in data.get("rules", {}).items():
        rules[number] = Rule(
            number=number,
            section=str(body["section"]),
            title=body["title"],
            text=body["text"].strip(),
            missing=body.get("missing", "").strip(),
            mentioned_in=tuple(body.get("mentioned_in", ())),
            partly=body.get("partly", "").strip(),
        )
    return RuleBook(sections=data.get("sections", []), rules=rules, intro=data.get("intro", "").strip())


def anchor(number: str) -> str:
    return number


def _link(name: str) -> str:
    return f"[{name}](../{name})"


def _locations(per_file: dict[str, set[str]], *, tests: bool) -> str:
    parts = []
    for name in sorted(per_file):
        symbols = sorted(per_file[name])
        if tests:
            count = len(symbols)
            detail = f" ({count} test{'s' if count != 1 else ''})" if count else ""
        else:
            detail = f" ({', '.join(f'`{s}`' for s in symbols)})" if symbols else ""
        parts.append(_link(name) + detail)
    return "; ".join(parts)


def render_rules(book: RuleBook, cited: Citations) -> str:
    out = [
        "# The rules",
        "",
        "<!-- Generated by `make docs` (tools/docs.py) from docs/rules.toml and a scan of the code and tests."
        " Edit docs/rules.toml, never this file; `make docs-check` fails when this file is stale. -->",
        "",
        book.intro,
        "",
        "Each rule below says where it is **enforced** (files outside `tests/` that cite its number, with the"
        " functions or classes around the citation) and where it is **tested** (files under `tests/` that cite"
        " it, with how many tests do). Both lists are found by `make docs`, which scans the repository for"
        " rule numbers; `make docs-check` (a step of `.ci/run`) fails when a cited number is not defined here,"
        " when a rule has no enforcement or no test, or when this page is out of date.",
        "",
        "## Contents",
        "",
    ]
    built = [r for r in book.rules.values() if not r.missing]
    not_built = sorted((r for r in book.rules.values() if r.missing), key=lambda r: r.sort_key)
    for section in book.sections:
        numbers = [r.number for r in built if r.section == str(section["number"])]
        if not numbers and not section.get("intro"):
            continue
        slug = _slug(f"§{section['number']} {section['title']}")
        listed = ", ".join(f"[{n}](#{anchor(n)})" for n in numbers)
        out.append(f"- [§{section['number']} {section['title']}](#{slug})" + (f": {listed}" if listed else ""))
    if not_built:
        out.append(
            "- [Not yet built](#not-yet-built): " + ", ".join(f"[{r.number}](#{anchor(r.number)})" for r in not_built)
        )
    out.append("")
    for section in book.sections:
        rules = [r for r in built if r.section == str(section["number"])]
        if not rules and not section.get("intro"):
            continue
        out += [f"## §{section['number']} {section['title']}", ""]
        if section.get("intro"):
            out += [section["intro"].strip(), ""]
        for rule in rules:
            out += _render_rule(rule, cited)
    if not_built:
        out += [
            "## Not yet built",
            "",
            "Rules of the product's specification that this repository does not carry out yet. Each names what"
            " is missing. None of them is cited by the code or the tests; `make docs-check` fails as soon as one"
            " is, until its `missing` line is removed from docs/rules.toml (which moves it to its section).",
            "",
        ]
        for rule in not_built:
            out += _render_rule(rule, cited)
    return "\n".join(out).rstrip() + "\n"


def _render_rule(rule: Rule, cited: Citations) -> list[str]:
    lines = [f'### <a id="{anchor(rule.number)}"></a>{rule.number} {rule.title}', "", rule.text, ""]
    if rule.missing:
        lines += [f"**Missing:** {rule.missing}", ""]
        if rule.mentioned_in:
            named = "; ".join(_link(name) for name in sorted(rule.mentioned_in))
            lines += [f"- Named, not carried out, in: {named}", ""]
        return lines
    if rule.partly:
        lines += [f"**Not yet:** {rule.partly}", ""]
    enforced = cited.code.get(rule.number, {})
    tested = cited.tests.get(rule.number, {})
    lines += [
        "- Enforced in: " + (_locations(enforced, tests=False) or "**nowhere**"),
        "- Tested in: " + (_locations(tested, tests=True) or "**nowhere**"),
        "",
    ]
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def rule_problems(root: Path, book: RuleBook, cited: Citations) -> list[str]:
    problems = []
    sections = {str(s["number"]) for s in book.sections}
    for rule in book.rules.values():
        if rule.section not in sections:
            problems.append(f"{RULES_SOURCE}: {rule.number} names section {rule.section}, which is not defined")
    for number in sorted(set(cited.anywhere) - set(book.rules)):
        files = ", ".join(sorted(cited.anywhere[number]))
        problems.append(f"{number} is cited in {files} but is not a rule of {RULES_DOC} (define it in {RULES_SOURCE})")
    for rule in sorted(book.rules.values(), key=lambda r: r.sort_key):
        if rule.missing:
            citing = set(cited.code.get(rule.number, {})) | set(cited.tests.get(rule.number, {}))
            if citing - set(rule.mentioned_in):
                files = ", ".join(sorted(citing - set(rule.mentioned_in)))
                problems.append(
                    f"{rule.number} is listed as not yet built but is cited in {files}: "
                    f"remove its `missing` line in {RULES_SOURCE} (and say what is built), then `make docs`"
                )
            for name in sorted(set(rule.mentioned_in) - citing):
                problems.append(f"{RULES_SOURCE}: {rule.number} lists {name} in `mentioned_in`, which does not cite it")
            continue
        if rule.mentioned_in:
            problems.append(f"{RULES_SOURCE}: {rule.number} is built; `mentioned_in` is for rules not yet built")
        if not cited.code.get(rule.number):
            problems.append(f"{rule.number} has no enforcement location (no file outside tests/ cites it)")
        if not cited.tests.get(rule.number):
            problems.append(f"{rule.number} has no test location (no file under tests/ cites it)")
    return problems


# --- links ------------------------------------------------------------------------------------------
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|!\[[^\]]*\]\(\s*([^)\s]+)\s*\)")
REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
HTML_LINK = re.compile(r"""<(?:a|img)\s[^>]*(?:href|src)=["']([^"']+)["']""")
EXPLICIT_ANCHOR = re.compile(r"""<a\s[^>]*(?:id|name)=["']([^"']+)["']""")


def _strip_code(text: str) -> str:
    text = re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors_of(text: str) -> set[str]:
    found = set(EXPLICIT_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for line in _strip_code(text).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = _slug(match.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def link_problems(root: Path, names: list[str] | None = None, *, unread: set[str] = frozenset()) -> list[str]:
    """Every link of every Markdown file (but those in `unread`) must reach a file of the repository."""
    problems = []
    names = names if names is not None else repository_files(root)
    markdown = [n for n in names if n.endswith(".md") and "node_modules/" not in n and n not in unread]
    root_resolved = root.resolve()
    for name in markdown:
        path = root / name
        text = path.read_text(encoding="utf-8")
        body = _strip_code(text)
        targets = [a or b for a, b in LINK.findall(body)] + REF_LINK.findall(body) + HTML_LINK.findall(body)
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, https:, mailto:
                continue
            file_part, _, fragment = target.partition("#")
            if file_part:
                resolved = (path.parent / file_part).resolve()
                if not resolved.is_relative_to(root_resolved):
                    problems.append(f"{name}: link to {target} leaves the repository")
                    continue
                if not resolved.exists():
                    problems.append(f"{name}: link to {target}: no such file in the repository")
                    continue
                relative = resolved.relative_to(root_resolved).as_posix()
                in_repository = (
                    relative in names
                    if resolved.is_file()
                    else any(n.startswith(relative + "/") for n in names) or relative == "."
                )
                if not in_repository:
                    problems.append(f"{name}: link to {target}: it exists here but not in the repository (ignored?)")
                    continue
            else:
                resolved = path.resolve()
            if fragment and resolved.suffix == ".md" and resolved.is_file():
                if fragment not in anchors_of(resolved.read_text(encoding="utf-8")):
                    problems.append(f"{name}: link to {target}: no heading or anchor #{fragment} there")
    return problems


# --- code named in the hand-written documents ----------------------------------------------------------
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# "`name`, `Other.name` in `some/module.py`": names said to be defined in one file.
NAMES_IN_FILE = re.compile(r"((?:`[A-Za-z_][\w.]*`(?:,\s*|\s+and\s+))*`[A-Za-z_][\w.]*`)\s+in\s+`([\w./-]+\.py)`")


def _defines(text: str, name: str) -> bool:
    last = name.split(".")[-1]
    word = re.escape(last)
    definition = rf"^\s*(?:async\s+def|def|class)\s+{word}\b|^{word}\s*[:=]|[\"']{word}[\"']\s*:"
    return bool(re.search(definition, text, re.M))


def code_reference_problems(root: Path, names: list[str] | None = None) -> list[str]:
    """The hand-written documents under docs/ name files (`admissions/selectors.py`) and the
    functions in them (`queue_walk` in `admissions/selectors.py`); a file moved or a function
    renamed by a refactoring must not leave them pointing at nothing."""
    names = names if names is not None else repository_files(root)
    present = set(names)
    top = {n.split("/")[0] for n in names if "/" in n}
    problems = []
    for doc in sorted(n for n in names if n.startswith("docs/") and n.endswith(".md") and n != RULES_DOC):
        text = (root / doc).read_text(encoding="utf-8")
        for span in sorted(set(CODE_SPAN.findall(text))):
            if "/" not in span or " " in span or span.split("/")[0] not in top or "{" in span or "<" in span:
                continue
            path = span.rstrip("/")
            exists = (
                any(fnmatch.fnmatch(n, path) for n in present)
                if "*" in path
                else path in present or any(n.startswith(path + "/") for n in present)
            )
            if not exists:
                problems.append(f"{doc}: `{span}` is not in the repository")
        for listed, module in NAMES_IN_FILE.findall(text):
            if module not in present:
                continue  # reported above
            source = (root / module).read_text(encoding="utf-8")
            for name in re.findall(r"`([\w.]+)`", listed):
                if not _defines(source, name):
                    problems.append(f"{doc}: `{name}` is not defined in `{module}`")
    return problems


# --- generated blocks inside hand-written documents --------------------------------------------------
BLOCK = "<!-- generated:{name} (make docs) -->\n{body}<!-- /generated:{name} -->"


def local_apps(root: Path) -> list[str]:
    """The project's Django apps (a folder with apps.py at the top) and config."""
    apps = sorted(p.parent.name for p in root.glob("*/apps.py"))
    return apps + (["config"] if (root / "config").is_dir() else [])


def app_imports(root: Path) -> dict[str, dict[str, int]]:
    """app → {other app: how many of its modules import it}, read from every import statement
    (those inside functions too), migrations left out."""
    apps = local_apps(root)
    result: dict[str, dict[str, int]] = {app: {} for app in apps}
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except SyntaxError:
                continue
            imported = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    imported.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
            for other in imported & set(apps) - {app}:
                result[app][other] = result[app].get(other, 0) + 1
    return result


def render_app_dependencies(root: Path) -> str:
    deps = app_imports(root)
    depth: dict[str, int] = {}

    def layer(app: str, seen: frozenset = frozenset()) -> int:
        """How high the app sits: 0 for one that imports none of ours. config (settings, URLs)
        is wiring, not a layer: edges into it are left out, and it is listed last."""
        if app not in depth:
            below = [layer(d, seen | {app}) for d in deps[app] if d != "config" and d not in seen | {app}]
            depth[app] = 1 + max(below, default=-1)
        return depth[app]

    lines = ["| app | imports from (number of its modules that do) |", "|---|---|"]
    for app in sorted(deps, key=lambda a: (a == "config", layer(a), a)):
        used = ", ".join(f"`{other}` ({n})" for other, n in sorted(deps[app].items())) or "nothing of ours"
        lines.append(f"| `{app}` | {used} |")
    return "\n".join(lines) + "\n"


GENERATED_BLOCKS = {"docs/architecture.md": {"app-dependencies": render_app_dependencies}}


def with_blocks(root: Path, name: str, text: str) -> str:
    for block, render in GENERATED_BLOCKS.get(name, {}).items():
        pattern = re.compile(
            re.escape(f"<!-- generated:{block} (make docs) -->") + ".*?" + re.escape(f"<!-- /generated:{block} -->"),
            re.DOTALL,
        )
        fresh = BLOCK.format(name=block, body=render(root))
        if not pattern.search(text):
            raise ValueError(f"{name} has no block <!-- generated:{block} (make docs) -->…<!-- /generated:{block} -->")
        text = pattern.sub(lambda _m, fresh=fresh: fresh, text, count=1)
    return text


def block_problems(root: Path) -> list[str]:
    problems = []
    for name in GENERATED_BLOCKS:
        path = root / name
        if not path.is_file():  # a link to it fails the link check; nothing to regenerate
            continue
        text = path.read_text(encoding="utf-8")
        try:
            if with_blocks(root, name, text) != text:
                problems.append(f"{name}: a generated part is stale (run `make docs`)")
        except ValueError as exc:
            problems.append(str(exc))
    return problems


# --- state-machine diagrams ---------------------------------------------------------------------------
def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Only the models are read: nothing is served and no database is opened.
    os.environ.setdefault("SECRET_KEY", "docs-generation-only")
    import django

    django.setup()


def diagrams_dot() -> dict[str, str]:
    """file name → DOT source, one per FSM field, from django-fsm-2's graph command."""
    _django()
    from django.apps import apps
    from django.utils import translation
    from django_fsm.management.commands.graph_transitions import all_fsm_fields_data, generate_dot

    translation.activate("en")
    result = {}
    for model in apps.get_models():
        for fsm_field, model_class in all_fsm_fields_data(model):
            graph = generate_dot([(fsm_field, model_class)])
            graph.graph_attr["rankdir"] = "LR"
            opts = model_class._meta
            result[f"{opts.app_label}.{opts.object_name}.{fsm_field.name}.dot"] = stable_dot(graph.source)
    return result


def stable_dot(source: str) -> str:
    """django-fsm-2 collects nodes and edges in sets, so their order changes from run to run:
    the statements of each block are sorted (nodes, then edges) and the text is the same every time."""
    lines = source.splitlines()
    out: list[str] = []
    block: list[str] = []

    def flush() -> None:
        nodes = sorted(line for line in block if "->" not in line)
        edges = sorted(line for line in block if "->" in line)
        out.extend(nodes + edges)
        block.clear()

    for line in lines:
        stripped = line.strip()
        statement = stripped.startswith('"')  # a node or an edge; not `graph [...]`, not a brace
        if statement:
            block.append(line)
        else:
            flush()
            out.append(line)
    flush()
    return "\n".join(out) + "\n"


def svg_for(dot_source: str) -> str:
    rendered = subprocess.run(["dot", "-Tsvg"], input=dot_source, capture_output=True, text=True, check=True).stdout
    # Graphviz's own comment names its version; dropped so the file does not change with it.
    rendered = re.sub(r"<!-- Generated by graphviz.*?-->\n", "", rendered, flags=re.DOTALL)
    first, _, rest = rendered.partition("\n")
    stamp = f"<!-- source-sha256: {_sha(dot_source)} (drawn by tools/docs.py from the .dot beside it) -->"
    return f"{first}\n{stamp}\n{rest}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def diagram_problems(root: Path, fresh: dict[str, str]) -> list[str]:
    problems = []
    folder = root / DIAGRAM_DIR
    committed = {p.name for p in folder.glob("*.dot")} if folder.is_dir() else set()
    for name in sorted(committed - set(fresh)):
        problems.append(f"{DIAGRAM_DIR}/{name} draws a state field the code no longer has (run `make docs`)")
    for name, source in sorted(fresh.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{DIAGRAM_DIR}/{name} is missing (run `make docs`)")
            continue
        if path.read_text(encoding="utf-8") != source:
            problems.append(f"{DIAGRAM_DIR}/{name} is stale: the code's transitions changed (run `make docs`)")
            continue
        svg = path.with_suffix(".svg")
        if not svg.is_file() or f"source-sha256: {_sha(source)}" not in svg.read_text(encoding="utf-8"):
            problems.append(f"{DIAGRAM_DIR}/{svg.name} was not drawn from {name} as it is now (run `make docs`)")
    return problems


# --- commands ---------------------------------------------------------------------------------------
def check(root: Path, *, diagrams: bool = True) -> list[str]:
    book = load_rules(root)
    cited = citations(root)
    problems = rule_problems(root, book, cited)
    doc = root / RULES_DOC
    unread: set[str] = set()
    if not doc.is_file() or doc.read_text(encoding="utf-8") != render_rules(book, cited):
        problems.append(f"{RULES_DOC} is stale: the code's citations or {RULES_SOURCE} changed (run `make docs`)")
        unread = {RULES_DOC}  # its links are rewritten by `make docs` anyway
    problems += block_problems(root)
    problems += link_problems(root, unread=unread)
    problems += code_reference_problems(root)
    if diagrams:
        problems += diagram_problems(root, diagrams_dot())
    return problems


def build(root: Path, *, diagrams: bool = True) -> None:
    book = load_rules(root)
    (root / RULES_DOC).write_text(render_rules(book, citations(root)), encoding="utf-8")
    print(f"wrote {RULES_DOC}")
    for name in GENERATED_BLOCKS:
        path = root / name
        if path.is_file():
            path.write_text(with_blocks(root, name, path.read_text(encoding="utf-8")), encoding="utf-8")
            print(f"wrote the generated parts of {name}")
    if diagrams:
        folder = root / DIAGRAM_DIR
        folder.mkdir(parents=True, exist_ok=True)
        fresh = diagrams_dot()
        for stale in folder.glob("*.dot"):
            if stale.name not in fresh:
                stale.unlink()
                stale.with_suffix(".svg").unlink(missing_ok=True)
        for name, source in fresh.items():
            (folder / name).write_text(source, encoding="utf-8")
            (folder / name).with_suffix(".svg").write_text(svg_for(source), encoding="utf-8")
            print(f"wrote {DIAGRAM_DIR}/{name} and its .svg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    parser.add_argument("--no-diagrams", action="store_true", help="leave the state-machine diagrams out")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.command == "build":
        build(root, diagrams=not args.no_diagrams)
        problems = check(root, diagrams=not args.no_diagrams)
        if problems:
            print("\nStill to fix by hand:", *problems, sep="\n- ", file=sys.stderr)
            return 1
        return 0
    problems = check(root, diagrams=not args.no_diagrams)
    if problems:
        print(f"docs-check: {len(problems)} problem(s)", *problems, sep="\n- ", file=sys.stderr)
        return 1
    print("docs-check: the rules, links and diagrams are fresh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
