"""Mutation testing of one rule module with mutmut 3: `make mutate MODULE=allocation`.

mutmut changes one thing at a time in the module (a `<` for a `<=`, a `True` for a `False`, a number
plus one, a call argument dropped, …) and runs the tests that reach the changed function; a change no
test notices (a surviving mutant) is a rule the tests do not pin. docs/mutation.md lists, per module,
the command, the kill rate it gave and every survivor with why it is harmless.

Each module has a folder of its own, `mutants/<name>/` (ignored by git), holding links to the project
and mutmut's copy of it, so one module's results and test map never invalidate another's. A second
run resumes: finished mutants keep their result, and only mutants of functions changed since are run
again. `make mutate MODULE=allocation FRESH=1` throws the folder away and starts over.

Shared settings are in pyproject.toml ([tool.mutmut]): what is copied, the lines never mutated
(translated messages, log lines) and the pytest options. Here, per module: the one file mutated and
the tests run against it, chosen as the tests of that module's rules (the rest of the suite is slow
and reaches these modules only through them). mutmut then runs, for each mutant, only those of these
tests that called the mutated function.

usage: python tools/mutate.py MODULE [MUTANT …] [--fresh] [--survivors] [--sample K] [--max-children N] [--report-only]
MODULE is a short name below or the file's path.

`--sample K` (`make mutate MODULE=lookup SAMPLE=4`) runs about one mutant in K only and gives the kill
rate over that sample; for a module whose full run would take longer than the time there is
(docs/mutation.md says which were sampled). A mutant is in the sample when the SHA-256 of its name
(`x_function__mutmut_12`, as mutmut names it) is 0 modulo K: the choice depends on the name alone, so
mutants added or removed elsewhere in the file never move one in or out (picking every K-th of the
sorted names did: a function that grew shifted the sample of every function after it). The mutants
left out stay "not checked"; a later run without --sample runs them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name: (the file mutated, the tests run against it). Keep docs/mutation.md in step.
MODULES: dict[str, tuple[str, list[str]]] = {
    "allocation": (
        "admissions/services/allocation.py",
        [
            "tests/admissions/test_allocation.py",
            # Couples' joint offers (R-CPL-2), the quota's blocked beds after a target change
            # (R-ALLOC-3) and the confirmations of an unchanged empty decision (R-ALLOC-2) are
            # allocated here too; these files take about 10 s together.
            "tests/admissions/test_couples.py",
            "tests/admissions/test_headroom.py",
            "tests/admissions/test_allocation_confirmations.py",
        ],
    ),
    "quota": (
        "facilities/selectors.py",
        ["tests/admissions/test_allocation.py", "tests/facilities/test_facilities.py"],
    ),
    "homes": (
        "facilities/services.py",
        # A home's fields, its nursing target (R-NQ-1's own target) and the audit of each change.
        ["tests/facilities/test_facilities.py", "tests/api/test_facilities.py", "tests/admissions/test_headroom.py"],
    ),
    "grading": (
        "assessments/grading.py",
        ["tests/assessments/"],
    ),
    "policy": (
        "admissions/policy.py",
        ["tests/admissions/test_policy.py"],
    ),
    "policy_versions": (
        "admissions/services/policy.py",
        # R-POL-1's act (policy_activate_due, _bring_under) is in this file too: without its tests
        # 206 of its first 338 mutants survived and 14 had none.
        ["tests/admissions/test_policy.py", "tests/admissions/test_policy_activation.py"],
    ),
    "lookup": (
        "admissions/services/lookup.py",
        [
            "tests/admissions/test_lookup.py",
            "tests/admissions/test_lookup_cache.py",
            "tests/admissions/test_lookup_positions.py",
            "tests/admissions/test_lookup_limits_atomic.py",
            "tests/api/test_public.py",
            # A couple's next steps (R-CPL-3), the family's re-confirmation under the lookup's limits
            # with `reconfirm_due` in the answer (R-CHG-3) and the re-reviews shown (R-ASM-6) are
            # built here too.
            "tests/admissions/test_couples.py",
            "tests/admissions/test_reconfirmation.py",
            "tests/api/test_reconfirmation.py",
            "tests/api/test_review_requests.py",
            # The facts query, compiled once (core/prepared.py), against the ORM's answer.
            "tests/core/test_prepared.py",
        ],
    ),
    "lookup_positions": (
        "admissions/services/lookup_positions.py",
        # The lookup's positions from each home's picture (issue 18), checked against R-Q-4/R-Q-5's
        # counts in the database; the lookup's cache tests reach it through `lookup_result`.
        [
            "tests/admissions/test_lookup_positions.py",
            "tests/admissions/test_lookup_cache.py",
            "tests/admissions/test_lookup.py",
        ],
    ),
    "queue": (
        "admissions/selectors.py",
        [
            "tests/admissions/test_queue.py",
            "tests/admissions/test_allocation.py",
            "tests/admissions/test_policy.py",
            # The policy in force (R-POL-1) and the refusals counted (R-OFF-5) are read here too.
            "tests/admissions/test_policy_activation.py",
            "tests/admissions/test_refusals_per_person.py",
            # The homes an applicant may choose (R-APP-7), which the intake form lists.
            "tests/admissions/test_views_intake_homes.py",
        ],
    ),
    "offers": (
        "admissions/services/offers.py",
        ["tests/admissions/test_offers.py", "tests/admissions/test_allocation.py"],
    ),
    "intake": (
        "admissions/services/applications.py",
        # R-CHG-1's corrections (application_update and its masked event) are in this module too.
        [
            "tests/admissions/test_intake.py",
            "tests/admissions/test_state_machine.py",
            "tests/admissions/test_corrections.py",
        ],
    ),
    "transitions": (
        "admissions/services/transitions.py",
        # Every edge of SPEC §5 taken through transition_apply (R-FSM-1…3), and the role table of
        # API.md that it checks before anything changes.
        ["tests/admissions/test_state_machine.py", "tests/admissions/test_transition_roles.py"],
    ),
    "identity": (
        "admissions/identity.py",
        ["tests/admissions/test_identity.py", "tests/admissions/test_intake.py"],
    ),
}

# What the module folder links to: everything the tests import or read (templates, translations).
LINKED = [
    "admissions",
    "api",
    "assessments",
    "config",
    "core",
    "facilities",
    "simulation",
    "tools",
    "web",
    "templates",
    "static",
    "locale",
    "tests",
    "manage.py",
    "pyproject.toml",
]

NOT_KILLED = {"survived", "no tests", "suspicious", "not checked", "segfault", "check was interrupted by user"}


def resolve(module: str) -> tuple[str, str, list[str]]:
    if module in MODULES:
        path, tests = MODULES[module]
        return module, path, tests
    for name, (path, tests) in MODULES.items():
        if module.removeprefix("./") == path:
            return name, path, tests
    known = ", ".join(f"{name} ({path})" for name, (path, _tests) in MODULES.items())
    raise SystemExit(f"MODULE={module!r} is not a rule module with a test selection; one of: {known}")


def prepare(workdir: Path, fresh: bool) -> None:
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = workdir / name
        if not link.is_symlink() and (ROOT / name).exists():
            link.symlink_to(os.path.relpath(ROOT / name, workdir))
    # mutmut copies files but never deletes one: drop what the project no longer has (a module
    # moved elsewhere would otherwise still be imported from the copy). Its own records stay.
    copy = workdir / "mutants"
    for name in LINKED:
        if not (copy / name).is_dir():
            continue
        for path in sorted((copy / name).rglob("*"), reverse=True):
            relative = path.relative_to(copy)
            if "__pycache__" in relative.parts or path.suffix in {".meta", ".spans"}:
                continue
            if not (ROOT / relative).exists():
                shutil.rmtree(path) if path.is_dir() else path.unlink()


def sampled(name: str, every: int) -> bool:
    """Whether mutant `name` is in the 1-in-`every` sample: by its name's hash alone, so the sample of a
    function never changes when another function gains or loses mutants."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % every == 0


def in_sample(keys, every: int) -> list[str]:
    """The mutant names of `keys` in the 1-in-`every` sample, sorted (every name when `every` is 1)."""
    return sorted(key for key in keys if sampled(key, every))


def sample_only(every: int) -> None:
    """Make mutmut run (and resume) the sample's mutants only, when no mutant is named."""
    import mutmut.__main__ as mutmut_main

    collect = mutmut_main.collect_source_file_mutation_data

    def collect_sample(*, mutant_names):
        mutants, by_path = collect(mutant_names=mutant_names)
        if not mutant_names:
            chosen = set(in_sample((name for _data, name, _result in mutants), every))
            mutants = [row for row in mutants if row[1] in chosen]
        return mutants, by_path

    mutmut_main.collect_source_file_mutation_data = collect_sample


def survivors(workdir: Path, path: str, every: int = 1) -> list[str]:
    """The mutants of the last run that no test killed: after adding tests, run these again."""
    from mutmut.stats import status_by_exit_code

    meta = json.loads((workdir / "mutants" / (path + ".meta")).read_text())
    chosen = set(in_sample(meta["exit_code_by_key"], every))
    return [
        key
        for key, code in sorted(meta["exit_code_by_key"].items())
        if key in chosen and status_by_exit_code[code] in NOT_KILLED
    ]


def summary(workdir: Path, path: str, every: int = 1) -> dict[str, int]:
    from mutmut.stats import status_by_exit_code

    meta = json.loads((workdir / "mutants" / (path + ".meta")).read_text())
    everything = meta["exit_code_by_key"]
    chosen = set(in_sample(everything, every))
    if every > 1:
        print(f"\nsampled: the mutants whose name's SHA-256 is 0 modulo {every}, {len(chosen)} of {len(everything)}")
    counts: dict[str, int] = {}
    survivors = []
    for key, code in sorted((key, code) for key, code in everything.items() if key in chosen):
        status = status_by_exit_code[code]
        counts[status] = counts.get(status, 0) + 1
        if status in NOT_KILLED and status != "not checked":
            survivors.append(f"  {status:12} {key}")
    total = sum(counts.values())
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    print()
    print(f"{path}: {total} mutants, " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if counts.get("not checked"):
        print(f"unfinished: {counts['not checked']} mutants not run yet; `make mutate` again resumes")
    elif total:
        print(f"kill rate: {killed}/{total} = {100 * killed / total:.1f} %")
    if survivors:
        print("not killed (`mutmut show NAME` in " + str(workdir.relative_to(ROOT)) + " shows one):")
        print("\n".join(survivors))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module")
    parser.add_argument("mutants", nargs="*", help="run only these mutants (names as printed), again")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results of this module")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutants (default 1)")
    parser.add_argument("--survivors", action="store_true", help="run the mutants not killed last time again")
    parser.add_argument("--report-only", action="store_true", help="print the last results, run nothing")
    parser.add_argument(
        "--sample",
        type=int,
        default=1,
        metavar="K",
        help="run and count about 1 in K mutants only, chosen by a hash of the name",
    )
    args = parser.parse_args()

    name, path, tests = resolve(args.module)
    workdir = ROOT / "mutants" / name
    if not args.report_only:
        prepare(workdir, args.fresh)
    os.chdir(workdir)
    # The project is imported from mutmut's copy only; this folder stays for mutation_settings.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() not in {ROOT, ROOT / "tools"}]
    sys.path.append(str(ROOT / "tools"))
    database = workdir / "test-database.sqlite3"
    if not args.report_only:
        for stale in workdir.glob(database.name + "*"):
            stale.unlink()
    os.environ["MUTATION_TEST_DATABASE"] = str(database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "mutation_settings"

    import mutmut.configuration as configuration

    config = configuration.config()
    config.only_mutate = [path]
    config.pytest_add_cli_args_test_selection = list(tests)

    if not args.report_only:
        from mutmut.__main__ import cli

        if args.sample > 1:
            sample_only(args.sample)
        names = list(args.mutants) + (survivors(workdir, path, args.sample) if args.survivors else [])
        try:
            cli(["run", "--max-children", str(args.max_children), *names], standalone_mode=False)
        except SystemExit as stop:
            if stop.code:
                raise
    summary(workdir, path, args.sample)


if __name__ == "__main__":
    main()
