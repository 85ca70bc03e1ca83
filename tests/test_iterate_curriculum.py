"""`prover iterate --curriculum-count`: the model picks its own next curriculum problems (prover.next_problems), and
rounds prove them beside the split. The choice is tested on hand-built trees and attempts; one tiny live iteration
checks the folders, the round rows and resuming."""
from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from prover.batch import RESULTS, TREES
from prover.next_problems import (MAX_TRIES, MIN_RATE, Attempt, Problem, apportion, choose_problems, family_weights,
                                  nearly_proved, read_attempts, read_problems, round_seed, write_problems)
from prover.search_tree import Edge, Node, Outcome, SearchTree, Status
from prover.types import Theorem

FAMILIES = ["alpha", "beta", "gamma"]


def fake_draw(family: str, count: int, seed: int) -> list[Theorem]:
    return [Theorem(f"cur_{family}_{seed}_{k}", f"Theorem cur_{family}_{seed}_{k} : True.", "", "toy", "train",
                    "curriculum") for k in range(count)]


def problem(family: str, k: int = 0, tries: int = 1) -> Problem:
    return Problem(fake_draw(family, k + 1, 0)[k], family, tries)


def chain(*steps: tuple[Outcome, bool], last_status: Status = Status.OPEN) -> SearchTree:
    """A tree whose root leads by one tactic per step to a node a step deeper; (outcome, automation) per step."""
    tree = SearchTree()
    tree.add_node(Node("root", "goal", depth=0, expanded=1))
    key = "root"
    for depth, (outcome, automation) in enumerate(steps, start=1):
        child = f"n{depth}"
        tree.add_node(Node(child, f"goal {depth}", depth=depth))
        tree.add_edge(Edge(key, child, f"tac{depth}.", -1.0, outcome, automation=automation))
        key = child
    tree.nodes[key].status = last_status
    return tree


def test_a_near_miss_got_two_accepted_steps_deep_on_a_model_step_that_is_no_dead_end():
    model, automation = (Outcome.ADVANCED, False), (Outcome.ADVANCED, True)
    assert nearly_proved(chain(model, model))
    assert nearly_proved(chain(automation, model, model))
    assert not nearly_proved(chain(model))  # one step is not under way
    assert not nearly_proved(chain(model, model, last_status=Status.FAILED))  # the search saw it leads nowhere
    assert not nearly_proved(chain(model, automation))  # automation's progress is not the model's
    retrieved = chain(model, model)
    retrieved.edges[-1].premise = True
    assert not nearly_proved(retrieved)  # nor is premise retrieval's
    proved = chain(model, model)
    proved.root.status = Status.PROVED
    assert not nearly_proved(proved)
    assert not nearly_proved(SearchTree())


def test_near_misses_are_kept_proved_and_missed_ones_dropped_and_fresh_draws_fill_the_round():
    near, done, missed, worn = problem("alpha", 0), problem("alpha", 1), problem("beta", 0), problem("gamma", 0, MAX_TRIES)
    previous = [Attempt(near, False, True), Attempt(done, True, False), Attempt(missed, False, False),
                Attempt(worn, False, True)]
    choice = choose_problems(previous, FAMILIES, 6, seed=7, round_index=2, draw=fake_draw)
    assert choice.kept == 1 and choice.problems[0] == Problem(near.theorem, "alpha", tries=2)
    names = [p.theorem.name for p in choice.problems]
    assert len(names) == len(set(names)) == 6
    assert not {done.theorem.name, missed.theorem.name, worn.theorem.name} & set(names)
    assert all(f"_{round_seed(7, 2)}_" in p.theorem.name and p.tries == 1 for p in choice.problems[1:])
    # the same inputs choose the same problems; another round draws others
    assert choose_problems(previous, FAMILIES, 6, 7, 2, fake_draw) == choice
    other = choose_problems(previous, FAMILIES, 6, 7, 3, fake_draw)
    assert {p.theorem.name for p in other.problems[1:]}.isdisjoint(names)


def test_more_near_misses_than_the_round_holds_keep_the_first():
    previous = [Attempt(problem("alpha", k), False, True) for k in range(5)]
    choice = choose_problems(previous, FAMILIES, 3, 0, 1, fake_draw)
    assert choice.kept == 3 and [p.theorem.name for p in choice.problems] == [f"cur_alpha_0_{k}" for k in range(3)]


def test_round_zero_is_even_and_draws_what_the_seed_draws():
    choice = choose_problems([], FAMILIES, 6, 5, 0, fake_draw)
    assert choice.kept == 0 and choice.weights == {f: pytest.approx(1 / 3) for f in FAMILIES}
    assert [p.theorem.name for p in choice.problems] == [t.name for f in FAMILIES for t in fake_draw(f, 2, 5)]


def test_weights_follow_the_proved_or_near_rate_with_a_floor():
    previous = [Attempt(problem("alpha", 0), True, False), Attempt(problem("alpha", 1), False, True),
                Attempt(problem("beta", 0), False, False), Attempt(problem("beta", 1), False, False)]
    weights = family_weights(previous, FAMILIES)
    # alpha 2/2, beta 0/2 (floored), gamma untried: the overall rate 2/4
    total = 1.0 + MIN_RATE + 0.5
    assert weights == {"alpha": pytest.approx(1.0 / total), "beta": pytest.approx(MIN_RATE / total),
                       "gamma": pytest.approx(0.5 / total)}
    assert sum(weights.values()) == pytest.approx(1.0)
    nothing = family_weights([Attempt(problem("alpha"), False, False)], FAMILIES)
    assert nothing == {f: pytest.approx(1 / 3) for f in FAMILIES}  # all at the floor: even again


def test_apportioning_gives_whole_quotas_exactly_and_every_family_a_chance():
    assert apportion({"a": 0.5, "b": 0.25, "c": 0.25}, 8, random.Random(0)) == {"a": 4, "b": 2, "c": 2}
    weights = family_weights([Attempt(problem("alpha"), True, False), Attempt(problem("beta"), False, False),
                              Attempt(problem("gamma"), False, False)], FAMILIES)
    picked = set()
    for seed in range(40):
        counts = apportion(weights, 2, random.Random(seed))
        assert sum(counts.values()) == 2 and counts["alpha"] >= 1  # its quota is above one
        picked |= {f for f, n in counts.items() if n}
    assert picked == set(FAMILIES)  # the floored families still come up


def test_attempts_are_read_from_a_run_folder(tmp_path):
    problems = [problem("alpha", k) for k in range(4)]
    write_problems(tmp_path / "curriculum.jsonl", problems)
    assert read_problems(tmp_path / "curriculum.jsonl") == problems
    run = tmp_path / "run"
    (run / TREES).mkdir(parents=True)
    statuses = ["proved", "failed", "timeout", "unsupported"]
    (run / RESULTS).write_text("".join(json.dumps({"name": p.theorem.name, "status": s}) + "\n"
                                       for p, s in zip(problems, statuses)))
    model = (Outcome.ADVANCED, False)
    chain(model).write(run / TREES / f"{problems[1].theorem.name}.json")
    chain(model, model).write(run / TREES / f"{problems[2].theorem.name}.json")
    attempts = read_attempts(run, problems)
    assert [(a.problem.theorem.name, a.proved, a.near) for a in attempts] == [
        (problems[0].theorem.name, True, False), (problems[1].theorem.name, False, False),
        (problems[2].theorem.name, False, True)]  # the unsupported statement was not attempted


@pytest.mark.rocq
def test_rounds_prove_a_curriculum_beside_the_split_and_resume(tmp_path):
    import yaml

    from prover.cli import main
    from test_iterate import PROVED, TINY_FINETUNE

    config = tmp_path / "tiny_finetune.yaml"
    config.write_text(yaml.safe_dump(TINY_FINETUNE))
    out = tmp_path / "iter"
    args = ["iterate", "--backend", "rocq", "--rounds", "1", "--names", PROVED[0], "--model", "none",
            "--curriculum-count", "2", "--curriculum-families", "linear_system,remainder", "--curriculum-seed", "3",
            "--train-config", str(config), "--search-weight", "2", "--max-expansions", "2", "--budget-seconds", "10",
            "--max-tokens", "8", "--no-progress", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rounds = [json.loads(line) for line in (out / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in rounds] == [0, 1]
    first = rounds[0]
    assert (out / "round_0" / "prove-curriculum" / RESULTS).is_file()
    assert first["curriculum_attempted"] == 2 and first["curriculum_kept"] == 0
    assert first["curriculum_weights"] == {"linear_system": 0.5, "remainder": 0.5}
    assert set(first["curriculum_families"]) == {"linear_system", "remainder"}
    assert sum(f["attempted"] for f in first["curriculum_families"].values()) == 2
    assert {"curriculum_proved", "curriculum_near", "curriculum_pass_rate"} <= set(first)
    chosen = [p.theorem.name for p in read_problems(out / "round_0" / "curriculum.jsonl")]
    assert chosen == ["cur_linear_system_3_0", "cur_remainder_3_0"]
    proved = {json.loads(line)["name"] for line in (out / "round_0" / "prove-curriculum" / RESULTS).read_text()
              .splitlines() if json.loads(line)["status"] == "proved"}
    steps = {json.loads(line)["theorem"] for line in (out / "round_0" / "steps.jsonl").read_text().splitlines()}
    assert proved <= steps and first["curriculum_proved"] == len(proved)
    later = [p.theorem.name for p in read_problems(out / "round_1" / "curriculum.jsonl")]
    assert not set(later) & proved and rounds[1]["curriculum_attempted"] == len(later) == 2

    # Resuming the last round chooses the same problems again and rewrites the same row.
    (out / "rounds.jsonl").write_text(json.dumps(first) + "\n")
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    redone = [json.loads(line) for line in (out / "rounds.jsonl").read_text().splitlines()]
    assert [r["round"] for r in redone] == [0, 1]
    assert {k: v for k, v in redone[1].items() if k != "seconds"} == {k: v for k, v in rounds[1].items()
                                                                       if k != "seconds"}


def test_a_folder_from_before_the_curriculum_resumes_with_its_defaults(tmp_path):
    from dataclasses import asdict
    from types import SimpleNamespace

    from prover.iterate import SETTINGS, IterateSettings, iterate

    class SettingsAccepted(Exception):
        pass

    def load(split):
        raise SettingsAccepted  # iterate reads the split only once the saved settings matched

    written_before = {k: v for k, v in asdict(IterateSettings()).items() if not k.startswith("curriculum")}
    (tmp_path / SETTINGS).write_text(json.dumps(written_before))
    plugin = SimpleNamespace(benchmarks={IterateSettings().benchmark: load})
    with pytest.raises(SettingsAccepted):
        iterate(IterateSettings(), tmp_path, plugin, progress=False)


def test_an_unknown_curriculum_family_is_one_line(tmp_path):
    from prover.cli import main

    result = CliRunner().invoke(main, ["iterate", "--backend", "rocq", "--model", "none", "--curriculum-count", "2",
                                       "--curriculum-families", "geometry", "--out", str(tmp_path / "iter")])
    assert result.exit_code == 2 and "unknown family geometry" in result.output
    assert not (tmp_path / "iter").exists()
