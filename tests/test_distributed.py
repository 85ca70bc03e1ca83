"""Distributed proving on Ray (prover.distributed): the rows of an in-process run, nothing lost or duplicated when
an actor dies or the job is interrupted, a model actor that batches the provers' requests, a `ray start` cluster."""
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import psutil
import pytest

from prover.batch import prepare_run_dir, read_rows
from prover.jsonl import append_row
from prover.distributed import ClusterSettings, ProverCluster
from prover.theorem_order import order_theorems
from prover.testing import ReplayGenerator
from prover.search import SearchConfig
from prover.types import Theorem

try:
    import ray
except ImportError:  # the in-process tests below still run: they check Ray is never needed there
    ray = None


def interruptible() -> None:
    """In the child before exec: Ctrl-C back to its default. A shell that starts jobs in the background (CI
    runners, `cmd &`) leaves SIGINT ignored, and Python then never raises KeyboardInterrupt for it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


needs_ray = pytest.mark.skipif(ray is None, reason="ray is not installed (pip install 'llemma-prover[ray]')")

PROVER = [sys.executable, "-m", "prover.cli"]
# A generous budget: the failing theorems below exhaust their queue in seconds, so statuses do not depend on load.
QUICK = ["--model", "none", "--budget-seconds", "30", "--tactic-timeout", "2", "--no-progress"]
CONFIG = SearchConfig(budget_seconds=30, tactic_timeout=2)
# Quick under automation alone: two proved, two failed (queue exhausted), one Coq 8.16 cannot state.
NAMES = ["mathd_algebra_104", "mathd_numbertheory_32", "algebra_2varlineareq_xpeeq7_2xpeeq3_eeq11_xeqn4",
         "mathd_algebra_433", "algebra_2rootsintpoly_am10tap11eqasqpam110"]
# Slower failures (1-4 s each), so that a run is still going when it is interrupted.
SLOWER = ["aimeII_2020_p6", "aimeI_2000_p7", "aime_1983_p9"]


def prover(*args, **kw):
    return subprocess.run([*PROVER, *args], capture_output=True, text=True, timeout=600, **kw)


def wait_for_rows(results, count, proc, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_text().count("\n") >= count:
            return
        time.sleep(0.05)


# ---- without Ray --------------------------------------------------------------------------------------------------


class SlowModelDouble:
    """TEST DOUBLE of a model that ignores deadlines: each call takes `delay` seconds."""

    name = "slow"

    def __init__(self, delay: float):
        self.delay = delay

    def generate(self, theorem, state_text, n):
        time.sleep(self.delay)
        return []


def test_a_model_actor_answers_by_the_time_a_prover_has_left():
    from prover.cluster_actors import ModelActor

    actor = ModelActor(lambda: SlowModelDouble(5.0), max_batch=4, max_wait_ms=1)  # the actor's class, run in-process
    try:
        started = time.monotonic()
        assert actor.generate(Theorem("t", "Goal True.", "", "rocq"), "True", 4, seconds_left=0.3) == []
        assert time.monotonic() - started < 3.0  # not the model's 5 s
    finally:
        actor.service.close(timeout=0)


@pytest.mark.rocq
def test_an_in_process_run_never_imports_ray(tmp_path):
    out = tmp_path / "run"
    code = ("import sys\nfrom prover.cli import main\ntry:\n    main(sys.argv[1:], standalone_mode=False)\n"
            "finally:\n    print('ray imported' if 'ray' in sys.modules else 'ray not imported')")
    done = subprocess.run([sys.executable, "-c", code, "prove", "--names", "mathd_algebra_104", *QUICK, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "ray not imported"
    assert [r["status"] for r in read_rows(out / "results.jsonl")] == ["proved"]
    alone = prover("prove", "--names", "mathd_algebra_104", *QUICK, "--ray-address", "auto", "--out", str(out))
    assert alone.returncode == 2 and "--ray-address goes with --workers" in alone.stderr


def test_longest_first_starts_theorems_known_to_be_long_then_the_longest_statements():
    def thm(name, statement):
        return Theorem(name=name, statement=statement, header="", backend="rocq")

    theorems = [thm("short", "a."), thm("long", "a" * 50 + "."), thm("was_running", "b."), thm("mid", "a" * 10 + ".")]
    assert [t.name for t in order_theorems(theorems, "given")] == ["short", "long", "was_running", "mid"]
    ordered = order_theorems(theorems, "longest-first", {"was_running": 40.0, "gone": 99.0})
    assert [t.name for t in ordered] == ["was_running", "long", "mid", "short"]


# ---- local Ray started by the job (the CLI) -----------------------------------------------------------------------


@pytest.mark.rocq
@needs_ray
def test_two_workers_prove_what_in_process_proves_and_finish_a_partial_run(tmp_path):
    alone = tmp_path / "alone"
    done = prover("prove", "--names", ",".join(NAMES), *QUICK, "--out", str(alone))
    assert done.returncode == 0, done.stderr
    expected = {r["name"]: r["status"] for r in read_rows(alone / "results.jsonl")}
    assert sorted(expected) == sorted(NAMES)

    # What an interrupted in-process run leaves: its config and its first two rows (proof files with them).
    part = tmp_path / "part"
    (part / "proofs").mkdir(parents=True)
    shutil.copy(alone / "config.json", part / "config.json")
    first = read_rows(alone / "results.jsonl")[:2]
    for row in first:
        append_row(part / "results.jsonl", row)
        if row["status"] == "proved":
            shutil.copy(alone / "proofs" / f"{row['name']}.v", part / "proofs" / f"{row['name']}.v")

    done = prover("prove", "--names", ",".join(NAMES), *QUICK, "--workers", "2", "--out", str(part))
    assert done.returncode == 0, done.stderr
    final = read_rows(part / "results.jsonl")
    assert final[:2] == first  # finished rows are kept, not redone
    assert sorted(r["name"] for r in final) == sorted(NAMES)  # one row per theorem
    assert {r["name"]: r["status"] for r in final} == expected  # the same statuses as in-process
    for name, status in expected.items():
        assert (part / "proofs" / f"{name}.v").exists() == (status == "proved")
    for row in final[2:]:  # the actors return each searched theorem's graph; the driver writes it before the row
        tree = part / "trees" / f"{row['name']}.json"
        assert tree.exists() == (row["status"] != "unsupported")
        if row["status"] == "proved":
            assert any(e["outcome"] == "proved" for e in json.loads(tree.read_text())["edges"])
    assert "proved 2/4" in done.stdout
    assert json.loads((part / "config.json").read_text())["workers"] == 2  # --workers is a resumable setting

    changed = [a if a != "30" else "31" for a in QUICK]  # another budget: still refused, with or without Ray
    refused = prover("prove", "--names", ",".join(NAMES), *changed, "--workers", "2", "--out", str(part))
    assert refused.returncode == 2 and "different budget_seconds" in refused.stderr


# ---- a cluster started by `ray start --head` (address mode) ------------------------------------------------------


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _group_alive(pgid):
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except OSError:
            continue
    return False


@pytest.fixture
def head_node():
    """A one-node Ray cluster on loopback with its own temp dir and process group: teardown stops exactly the
    processes it started (by group id) where `ray stop` would stop every Ray on the machine."""
    ray_cli = shutil.which("ray")
    if ray_cli is None:
        pytest.skip("the `ray` command is not on PATH (pip install ray)")
    temp = tempfile.mkdtemp(prefix="rayt", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    port, client_port, agent_port = _free_ports(3)
    # A token of the test's own: the cluster and the jobs connecting to it use it, nothing else does.
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex, "RAY_USAGE_STATS_ENABLED": "0"}
    start = subprocess.Popen(
        [ray_cli, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
         "--include-dashboard=false", f"--ray-client-server-port={client_port}",
         f"--dashboard-agent-listen-port={agent_port}", f"--temp-dir={temp}", "--disable-usage-stats"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    pgid = start.pid  # the new session's group: every Ray process it starts stays in it
    try:
        output, _ = start.communicate(timeout=180)
        if start.returncode != 0:
            pytest.fail(f"ray start failed:\n{output[-3000:]}")
        yield f"127.0.0.1:{port}", env
    finally:
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and _group_alive(pgid):
                time.sleep(0.1)
            if not _group_alive(pgid):
                break
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.rocq
@needs_ray
def test_a_job_on_a_ray_start_cluster_survives_ctrl_c_and_resumes(tmp_path, head_node):
    address, env = head_node
    out = tmp_path / "run"
    names = ",".join(NAMES + SLOWER)
    command = [*PROVER, "prove", "--names", names, *QUICK, "--workers", "2", "--ray-address", address, "--out", str(out)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)
    wait_for_rows(out / "results.jsonl", 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "rerun the same command to resume" in err, err[-2000:]
    partial = [r["name"] for r in read_rows(out / "results.jsonl")]
    assert 1 <= len(partial) < len(NAMES + SLOWER)

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    final = [r["name"] for r in read_rows(out / "results.jsonl")]
    assert final[: len(partial)] == partial and sorted(final) == sorted(NAMES + SLOWER)


# ---- a Ray session of the test's own, driven through the API -----------------------------------------------------


@pytest.fixture(scope="module")
def ray_session():
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED")}
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(address="local", num_cpus=4, include_dashboard=False, object_store_memory=100 * 2**20, log_to_driver=False)
    yield
    ray.shutdown()
    for key, value in saved.items():  # ray.init switches token auth on in os.environ: later tests must not inherit it
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.mark.rocq
@needs_ray
def test_a_killed_prover_actor_loses_no_theorem(ray_session, tmp_path, valid):
    out = tmp_path / "run"
    prepare_run_dir(out, {})
    kills = {"mathd_algebra_433": 1, "mathd_numbertheory_32": 2}
    killed = []

    def kill_its_prover(theorem, actor):
        if kills.get(theorem.name, 0) > 0:
            kills[theorem.name] -= 1
            pid = ray.get(actor.info.options(max_task_retries=-1).remote())["pid"]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with ProverCluster("rocq", ClusterSettings(workers=2)) as cluster:
        rows = list(cluster.run([valid[n] for n in NAMES], CONFIG, out, progress=False, on_dispatch=kill_its_prover))
        pids_after = {ray.get(p.info.remote())["pid"] for p in cluster.provers}
    assert sorted(r["name"] for r in read_rows(out / "results.jsonl")) == sorted(NAMES)  # exactly one row each
    by_name = {r["name"]: r for r in rows}
    assert by_name["mathd_algebra_433"]["status"] == "failed"  # retried: searched in full
    twice = by_name["mathd_numbertheory_32"]
    assert twice["status"] == "error" and "died twice" in twice["reason"]
    assert by_name["mathd_algebra_104"]["status"] == "proved"
    trees = sorted(p.stem for p in (out / "trees").iterdir())
    assert trees == sorted(n for n, r in by_name.items() if r["status"] not in ("unsupported", "error"))
    assert sorted(cluster.retried) == sorted(["mathd_algebra_433"] + ["mathd_numbertheory_32"] * 2)
    assert len(killed) == 3 and not pids_after & set(killed)  # restarted provers are new processes


@pytest.mark.rocq
@needs_ray
def test_a_model_actor_serves_the_provers_in_batches_and_is_restarted_after_a_crash(ray_session, tmp_path, valid):
    replay = functools.partial(ReplayGenerator, {"mathd_algebra_104": ["lra."],
                                                 "algebra_binomnegdiscrineq_10alt28asqp1": ["intros.", "lra."]})
    model_only = SearchConfig(budget_seconds=30, tactic_timeout=2, automation=False, max_expansions=5)
    theorems = [valid["mathd_algebra_104"], valid["algebra_binomnegdiscrineq_10alt28asqp1"]]  # the same header
    # A long wait for company: the two provers' first requests come within moments of each other, so they share
    # one model call however busy the machine is.
    settings = ClusterSettings(workers=2, model_max_wait_ms=3000)
    out, again = tmp_path / "run", tmp_path / "again"
    prepare_run_dir(out, {})
    prepare_run_dir(again, {})
    with ProverCluster("rocq", settings, model=replay) as cluster:
        assert cluster.model_name == "replay"
        cluster.warm_up(theorems[0])  # both provers hold the header: neither starts late
        rows = {r["name"]: r for r in cluster.run(theorems, model_only, out, progress=False)}
        proved, failed = rows["mathd_algebra_104"], rows["algebra_binomnegdiscrineq_10alt28asqp1"]
        assert proved["status"] == "proved" and proved["proof"] == ["lra."] and proved["model"] == "replay"
        assert failed["status"] == "failed" and failed["tactics_run"] >= 2  # the model's tactics, no automation
        stats = cluster.model_stats()[0]
        assert stats["batch_sizes"].get(2, 0) >= 1 and stats["batches"] < stats["requests"]

        model_pid = ray.get(cluster.model_actors[0].info.remote())["pid"]
        os.kill(model_pid, signal.SIGKILL)
        rows = list(cluster.run(theorems[:1], model_only, again, progress=False))
        assert rows[0]["status"] == "proved" and rows[0]["proof"] == ["lra."]
        assert ray.get(cluster.model_actors[0].info.options(max_task_retries=-1).remote())["pid"] != model_pid


@needs_ray
def test_an_actor_runs_its_model_on_the_cpus_ray_gave_it_with_openmp_waiting_passively(ray_session):
    @ray.remote
    class Probe:
        def threads(self):
            import prover  # noqa: F401  (as the model actor's module does, before torch)
            from prover.cpu_threads import model_threads

            return model_threads(), os.environ.get("OMP_WAIT_POLICY")

    for cpus in (1, 2):
        probe = Probe.options(num_cpus=cpus).remote()
        assert ray.get(probe.threads.remote()) == (cpus, "PASSIVE")
        ray.kill(probe)
