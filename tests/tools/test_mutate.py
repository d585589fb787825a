"""`make mutate SAMPLE=K` (tools/mutate.py, issue 20): a sampled kill rate can be measured again on a
file that changed elsewhere only if the sample of each function stays put. A mutant is in the sample by
its own name alone (its SHA-256 modulo K), never by its place among the others."""

from tools.mutate import MODULES, in_sample, sampled

# The sample of the first 40 of NAMES at K = 8, written out: a change of the hash would move every
# documented sampled figure.
CHOSEN_OF_THE_FIRST_40 = ["2", "20", "28", "36", "39", "40"]
NAMES = [f"admissions.services.allocation.x__choose__mutmut_{n}" for n in range(1, 401)]


def test_mutants_added_to_another_function_move_no_mutant_in_or_out_of_the_sample():
    before = in_sample(NAMES, 8)
    grown = NAMES + [f"admissions.services.allocation.x__aaa__mutmut_{n}" for n in range(1, 60)]
    after = in_sample(grown, 8)
    assert [name for name in after if "x__choose__" in name] == before
    shrunk = NAMES[::2]
    assert in_sample(shrunk, 8) == [name for name in before if name in shrunk]


def test_the_sample_is_about_one_in_k_and_every_mutant_without_sampling():
    assert in_sample(NAMES, 1) == sorted(NAMES)
    assert 30 <= len(in_sample(NAMES, 8)) <= 70
    assert 1 <= len(in_sample(NAMES, 32)) <= 25


def test_the_choice_is_the_hash_of_the_name_so_it_is_the_same_on_every_machine():
    """Python's own hash() of a string changes per process; SHA-256 does not."""
    assert sampled("admissions.services.transitions.x_reason_required__mutmut_1", 1)
    chosen = [name for name in NAMES[:40] if sampled(name, 8)]
    assert chosen == in_sample(NAMES[:40], 8)
    assert chosen == ["admissions.services.allocation.x__choose__mutmut_" + n for n in CHOSEN_OF_THE_FIRST_40]


def test_every_module_names_its_file_and_tests_that_exist():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert "transitions" in MODULES
    for path, tests in MODULES.values():
        assert (root / path).is_file(), path
        for test in tests:
            assert (root / test).exists(), test
