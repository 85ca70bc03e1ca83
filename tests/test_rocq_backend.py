"""The Rocq backend on live coqtop: states, tactics, refusals, timeouts, recovery."""
import dataclasses
import os
import shutil
import signal
import threading
import time

import pytest

from prover.types import Advanced, Failed, Proved, StatementError, TimedOut

LOOP = "let rec f n := f (S n) in f O"


@pytest.mark.rocq
def test_open_gives_the_statement_goal(backend, valid):
    state = backend.open(valid["mathd_numbertheory_32"])
    assert "sum_list (divisors 36) = 91" in state.goals
    assert state.depth == 0


@pytest.mark.rocq
def test_a_closing_tactic_proves_and_returns_the_tactic_path(backend, valid):
    state = backend.open(valid["mathd_numbertheory_32"])
    step = backend.run_tactic(state, "compute", 5)
    assert isinstance(step, Advanced) and "91 = 91" in step.state.goals
    done = backend.run_tactic(step.state, "reflexivity.", 5)
    assert done == Proved(("compute.", "reflexivity."))


@pytest.mark.rocq
def test_a_failing_tactic_reports_coqs_error(backend, valid):
    state = backend.open(valid["mathd_numbertheory_32"])
    result = backend.run_tactic(state, "apply no_such_lemma", 5)
    assert isinstance(result, Failed) and "no_such_lemma" in result.error


@pytest.mark.rocq
@pytest.mark.parametrize("tactic", ["Qed.", "lia. Qed.", "admit.", "Admitted.", "Abort.", "Axiom x : False.", "now admit", "give_up."])
def test_input_that_ends_aborts_or_declares_is_refused(backend, valid, tactic):
    state = backend.open(valid["mathd_numbertheory_32"])
    assert isinstance(backend.run_tactic(state, tactic, 5), Failed)
    # and the state is still usable afterwards
    assert isinstance(backend.run_tactic(state, "reflexivity", 5), Proved)


@pytest.mark.rocq
def test_a_qualified_tactic_name_is_a_tactic_not_a_command(backend, valid):
    # `Nat.` / `Z.` start with a capital like commands do, but a qualified name is never a command
    state = backend.open(valid["mathd_numbertheory_458"])
    step = backend.run_tactic(state, "intros n h. ", 5)
    facts = backend.run_tactic(step.state, "pose proof (Nat.div_mod_eq n 4); pose proof (Nat.mod_upper_bound n 4).", 5)
    assert isinstance(facts, Advanced) and "n = 4 * (n / 4) + n mod 4" in facts.state.goals
    unknown = backend.run_tactic(step.state, "Z.no_such_tactic.", 5)
    assert isinstance(unknown, Failed) and "was not found" in unknown.error


@pytest.mark.rocq
def test_a_looping_tactic_times_out_and_the_state_stays_usable(backend, valid):
    state = backend.open(valid["mathd_numbertheory_32"])
    assert isinstance(backend.run_tactic(state, LOOP, 1), TimedOut)
    assert isinstance(backend.run_tactic(state, "reflexivity", 5), Proved)


@pytest.mark.rocq
def test_any_earlier_state_can_be_resumed_in_any_order(backend, valid):
    state = backend.open(valid["mathd_algebra_10"])
    unfolded = backend.run_tactic(state, "unfold Rabs", 5).state
    split = backend.run_tactic(unfolded, "destruct (Rcase_abs _)", 5).state
    other_branch = backend.run_tactic(state, "intros", 5)  # jumps back to the root
    assert isinstance(other_branch, Advanced)
    first_case = backend.run_tactic(split, "lra", 5)  # jumps into the first branch again: replayed
    assert isinstance(first_case, Advanced) and ">= 0" in first_case.state.goals
    assert backend.run_tactic(first_case.state, "lra", 5) == Proved(("unfold Rabs.", "destruct (Rcase_abs _).", "lra.", "lra."))


@pytest.mark.rocq
def test_a_killed_coqtop_is_restarted_and_the_path_replayed(backend, valid):
    state = backend.open(valid["mathd_algebra_10"])
    unfolded = backend.run_tactic(state, "unfold Rabs", 5).state
    os.kill(backend._coq.proc.pid, signal.SIGKILL)
    result = backend.run_tactic(unfolded, "destruct (Rcase_abs _)", 5)
    assert isinstance(result, Advanced) and "goal 2" in result.state.goals
    assert backend.restarts == 1


@pytest.mark.rocq
def test_a_coqtop_killed_while_the_header_loads_is_replaced_and_open_still_gives_the_goal(backend, valid):
    theorem = valid["mathd_numbertheory_32"]
    # A header with a 3-second sentence: the kill below lands while it is loading.
    slow = dataclasses.replace(theorem, header=f"{theorem.header}\nGoal True.\nFail Timeout 3 ({LOOP}).\nAbort.")
    killed = []

    def kill_the_first_coqtop_mid_header():
        deadline = time.monotonic() + 60
        while backend._coq is None and time.monotonic() < deadline:
            time.sleep(0.01)
        first = backend._coq
        time.sleep(0.5)
        os.killpg(os.getpgid(first.proc.pid), signal.SIGKILL)  # the whole sandboxed group, as an OOM killer might
        killed.append(first)

    killer = threading.Thread(target=kill_the_first_coqtop_mid_header)
    killer.start()
    state = backend.open(slow)
    killer.join()
    assert killed and backend._coq is not killed[0]  # opened in a fresh process
    assert "sum_list (divisors 36) = 91" in state.goals and backend.restarts == 1
    assert isinstance(backend.run_tactic(backend.run_tactic(state, "compute", 5).state, "reflexivity", 5), Proved)


@pytest.mark.rocq
def test_a_header_whose_coqtop_dies_every_time_fails_after_the_retries(backend, valid, monkeypatch):
    from coq_env import backend as rocq
    from coq_env.coqtop import CoqtopDied

    started = []

    class DiesAtOnce(rocq.Coqtop):
        def send(self, sentence, timeout):
            started.append(self)
            os.killpg(os.getpgid(self.proc.pid), signal.SIGKILL)
            return super().send(sentence, timeout)

    monkeypatch.setattr(rocq, "Coqtop", DiesAtOnce)
    with pytest.raises(CoqtopDied):
        backend.open(valid["mathd_numbertheory_32"])
    assert len(started) == 1 + rocq.OPEN_RETRIES and backend._coq is None  # nothing left running


@pytest.mark.rocq
def test_braces_left_open_are_closed_when_the_goals_run_out(backend, valid):
    state = backend.open(valid["mathd_numbertheory_32"])
    braced = backend.run_tactic(state, "{", 5).state
    assert backend.run_tactic(braced, "reflexivity", 5) == Proved(("{", "reflexivity.", "}"))


@pytest.mark.rocq
def test_a_statement_coq_816_cannot_check_is_a_statement_error(backend, valid):
    with pytest.raises(StatementError):
        backend.open(valid["amc12a_2009_p15"])  # Coquelicot complex numbers: fails on Coq 8.16


@pytest.mark.rocq
def test_the_automation_libraries_are_loaded_before_the_theorem(backend, valid):
    # mathd_algebra_104 imports only Reals; lra must still be known
    state = backend.open(valid["mathd_algebra_104"])
    assert isinstance(backend.run_tactic(state, "lra", 5), Proved)


@pytest.mark.rocq
def test_a_reals_proof_verifies_with_only_standard_library_axioms(backend, valid):
    verdict = backend.verify(valid["mathd_algebra_104"], ("lra.",))
    assert verdict.accepted, verdict.reason
    assert all(a.startswith("Coq.") for a in verdict.axioms)



@pytest.mark.rocq
def test_states_that_differ_in_unused_hypothesis_names_or_repeated_facts_share_a_key(backend, valid):
    state = backend.open(valid["aime_1984_p15"])  # forall x y z w : R, four equations -> the sum is 36
    by_intros, by_names, renamed = (backend.run_tactic(state, t, 5).state
                                    for t in ("intros.", "intros x y z w a b c d.", "intros p q r s a b c d."))
    assert by_intros.goals != by_names.goals and backend.state_key(by_intros) == backend.state_key(by_names)
    assert backend.state_key(renamed) != backend.state_key(by_intros)  # the equations mention the variables
    fact = backend.run_tactic(by_intros, "assert (0 <= 1) by lra.", 5).state
    again = backend.run_tactic(fact, "assert (0 <= 1) by lra.", 5).state
    assert fact.goals != again.goals and backend.state_key(fact) == backend.state_key(again)
    assert backend.state_key(fact) != backend.state_key(by_intros)


@pytest.mark.rocq
@pytest.mark.skipif(shutil.which("csdp") is None, reason="no csdp (Debian coinor-csdp): psatz cannot run here")
def test_psatz_is_automation_where_csdp_is_installed_and_its_proofs_check(backend, valid):
    assert {"psatz R 2", "psatz R 3"} <= set(backend.automation_tactics())
    # (a - b)^2 >= 0 is the certificate: nra needs it as a hint, psatz finds it
    state = backend.run_tactic(backend.open(valid["algebra_sqineq_2unitcircatblt1"]), "intros.", 5).state
    assert isinstance(backend.run_tactic(state, "nra.", 5), Failed)
    proved = backend.run_tactic(state, "psatz R 2.", 5)
    assert isinstance(proved, Proved) and backend.verify(valid["algebra_sqineq_2unitcircatblt1"], proved.tactics).accepted


def test_without_csdp_psatz_is_left_out(monkeypatch):
    from coq_env import backend as rocq

    monkeypatch.setattr(rocq.shutil, "which", lambda name: None)
    assert rocq.default_automation() == (rocq.AUTOMATION_TACTICS + rocq.residues.RESIDUE_TACTICS
                                         + rocq.square_roots.SQUARE_ROOT_TACTICS + rocq.reciprocals.RECIPROCAL_TACTICS
                                         + rocq.absolute_values.ABSOLUTE_VALUE_TACTICS + rocq.roots.ROOT_TACTICS
                                         + rocq.function_arguments.EQUAL_ARGUMENT_TACTICS
                                         + rocq.induction.INDUCTION_TACTICS)
