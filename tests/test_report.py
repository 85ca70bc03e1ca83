"""`prover report` and the report page `prover prove` leaves in its run folder, on real small Rocq runs
(--model none): the terminal table, the HTML sections and plots, a comparison of two runs, and bad input."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from prover.run_report import category, load_run, pass_at_k, wilson_interval

PROVER = [sys.executable, "-m", "prover.cli"]
QUICK = ["--model", "none", "--budget-seconds", "10", "--tactic-timeout", "2", "--no-hammer", "--no-progress"]
# aime_1984_p15 takes two steps (intros, lra): proved with 4 expansions, not with 1. mathd_algebra_104 is one lra;
# mathd_algebra_59 (Rpower) fails either way; amc12a_2009_p15 cannot be stated in Coq 8.16.
NAMES = "aime_1984_p15,mathd_algebra_104,mathd_numbertheory_32,mathd_algebra_59,amc12a_2009_p15,induction_sum_odd"


def prover(*args, cwd=None):
    return subprocess.run([*PROVER, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two real runs of the same theorems: `wide` (4 expansions) and `narrow` (1), with what `prove` printed."""
    if shutil.which("coqtop") is None:
        pytest.skip("coqtop not found (Rocq tests need it)")
    root = tmp_path_factory.mktemp("report")
    done = {}
    for label, expansions in (("narrow", 1), ("wide", 4)):
        done[label] = prover("prove", "--names", NAMES, *QUICK, "--max-expansions", expansions, "--out", root / label)
        assert done[label].returncode == 0, done[label].stderr
    return root, done


def html_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.external = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag in ("script", "link", "img", "iframe") and (attrs.get("src") or attrs.get("href")):
            self.external.append((tag, attrs))


def parsed(text: str) -> _Ids:
    parser = _Ids()
    parser.feed(text)
    return parser


@pytest.mark.rocq
def test_prove_writes_the_report_page_and_says_where(runs):
    root, done = runs
    assert f"report: {root / 'wide' / 'report.html'}" in done["wide"].stdout.splitlines()
    assert (root / "wide" / "report.html").stat().st_size > 0


@pytest.mark.rocq
def test_the_page_has_its_sections_plots_and_proofs_and_needs_no_network(runs):
    root, _ = runs
    page = html_of(root / "wide" / "report.html")
    found = parsed(page)
    assert {"summary", "cactus", "categories", "theorems", "tree-aime_1984_p15", "tree-mathd_algebra_59"} <= set(found.ids)
    assert len(found.ids) == len(set(found.ids)) and not found.external  # ids unique; nothing fetched
    assert "comparison" not in found.ids  # one run: nothing to compare
    assert page.count("<svg") == 2 and "theorems proved" in page and "share proved" in page  # the two plots' axes
    assert re.search(r'class="hl".*Theorem.*aime_1984_p15.*lra', page, re.S)  # the proof file, highlighted
    for category_name in ("aime", "mathd_algebra", "mathd_numbertheory", "induction"):
        assert f"<td>{category_name}</td>" in page
    failed = page[page.index('id="thm-mathd_algebra_59"'):]
    assert "last error:" in failed[:failed.index("</details>")]
    tree = page[page.index('id="tree-aime_1984_p15"'):]
    assert re.search(r'<li><details open><summary><code class="onproof">intros', tree)  # the proof path, open and marked
    failed_tree = page[page.index('id="tree-mathd_algebra_59"'):]
    assert "onproof" not in failed_tree[:failed_tree.index('id="thm-')]  # no proof, no path marked


@pytest.mark.rocq
def test_the_terminal_report_is_a_table_with_the_pass_rate_interval_and_time_split(runs):
    root, _ = runs
    done = prover("report", root / "wide")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for label in ("proved", "pass rate", "95% interval", "proof assistant", "verification", "unsupported"):
        assert any(line.strip("│ ").startswith(label) for line in lines), label
    assert "wide: proved 3/5" in done.stdout and "  proved aime_1984_p15: intros. lra." in done.stdout


@pytest.mark.rocq
def test_two_runs_compared_show_the_theorems_gained_with_both_sides(runs, tmp_path):
    root, _ = runs
    out = tmp_path / "compare.html"
    done = prover("report", root / "narrow", root / "wide", "--html", out)
    assert done.returncode == 0, done.stderr
    assert re.search(r"│ wide\s+│\s+\+1 │\s+-0 │", done.stdout) and f"report: {out}" in done.stdout
    page = html_of(out)
    found = parsed(page)
    assert {"comparison", "gained-2", "tree-aime_1984_p15", "tree-aime_1984_p15-run2"} <= set(found.ids)
    gained = page[page.index('id="gained-2"'):page.index("No pass@k")]
    assert "aime_1984_p15" in gained and "lra" in gained and "failed" in gained  # its proof beside the narrow failure
    assert page.count("<svg") == 2 and 'id="lost-2"' not in page


@pytest.mark.rocq
def test_repeats_of_one_setting_report_pass_at_k(runs, tmp_path):
    root, _ = runs
    shutil.copytree(root / "wide", tmp_path / "again")
    done = prover("report", root / "wide", tmp_path / "again", "--html", tmp_path / "k.html")
    assert done.returncode == 0 and "pass@2 60.0%" in done.stdout, done.stdout
    assert 'id="pass-at-k"' in html_of(tmp_path / "k.html")


@pytest.mark.rocq
def test_runs_of_different_benchmarks_are_refused_naming_both(runs, tmp_path):
    root, _ = runs
    other = tmp_path / "other"
    shutil.copytree(root / "wide", other)
    config = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**config, "split": "test"}))
    done = prover("report", root / "wide", other)
    assert done.returncode == 2 and done.stderr.startswith("error: runs of different benchmarks")
    assert "minif2f-rocq valid" in done.stderr and "minif2f-rocq test" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_empty_or_repeated_run_folder_is_one_clear_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "results.jsonl").write_text("")
    for folders, message in (([tmp_path / "nope"], "no results.jsonl in"), ([tmp_path / "empty"], "has no rows"),
                             ([tmp_path / "empty", tmp_path / "empty"], "is given twice")):
        done = prover("report", *folders)
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_run_with_only_errors_still_renders_with_a_note(tmp_path):
    run = tmp_path / "broken"
    run.mkdir()
    row = {"split": "valid", "model": "none", "proof": None, "status": "error", "reason": "CoqtopDied: exited -9"}
    (run / "results.jsonl").write_text("".join(json.dumps({**row, "name": n}) + "\n" for n in ("imo_1959_p1", "aime_x")))
    done = prover("report", run, "--html", run / "report.html")
    assert done.returncode == 0, done.stderr
    assert "note: broken: every theorem ended in an error on our side, e.g. CoqtopDied" in done.stdout
    page = html_of(run / "report.html")
    assert 'class="note"' in page and "CoqtopDied" in page and "theorems proved" in page


def test_the_wilson_interval_matches_its_formula_at_known_points():
    assert wilson_interval(0, 0) == (0.0, 0.0)
    low, high = wilson_interval(1, 8)
    assert round(low, 3) == 0.022 and round(high, 3) == 0.471
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and round(low, 3) == 0.722


def test_categories_come_from_minif2f_names_or_a_holes_folder():
    names = {"mathd_algebra_10": "mathd_algebra", "amc12a_2009_p15": "amc12", "amc12b_2002_p4": "amc12",
             "amc12_2000_p1": "amc12", "aimeI_2000_p7": "aime", "imo_1959_p1": "imo", "algebra_sqineq": "algebra",
             "numbertheory_2dvd": "numbertheory", "induction_12dvd": "induction", "mathd_numbertheory_3":
             "mathd_numbertheory", "something_else": "other"}
    assert {n: category({"name": n}) for n in names} == names
    assert category({"name": "theories/Easy.v:double_3", "file": "theories/Easy.v"}) == "theories"
    assert category({"name": "Easy.v:double_3", "file": "Easy.v"}) == "(top folder)"


def test_pass_at_k_counts_a_theorem_proved_in_any_run_and_estimates_smaller_k(tmp_path):
    runs = []
    for i, statuses in enumerate((("proved", "failed"), ("failed", "failed"))):
        folder = tmp_path / f"r{i}"
        folder.mkdir()
        (folder / "results.jsonl").write_text("".join(
            json.dumps({"name": n, "status": s}) + "\n" for n, s in zip(("a", "b"), statuses)))
        runs.append(load_run(folder))
    assert pass_at_k(runs) == {1: 0.25, 2: 0.5}


@pytest.mark.rocq
def test_a_run_on_a_users_file_writes_its_report_with_the_files_folder_as_category(tmp_path):
    folder = tmp_path / "proj" / "arith"
    folder.mkdir(parents=True)
    (folder / "Small.v").write_text("Lemma two : 1 + 1 = 2.\nAdmitted.\n")
    done = prover("prove", folder.parent, *QUICK, "--max-expansions", "2", "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert f"report: {tmp_path / 'run' / 'report.html'}" in done.stdout
    assert "<td>arith</td>" in html_of(tmp_path / "run" / "report.html")


@pytest.mark.rocq
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")
def test_a_run_on_ray_workers_writes_its_report_too(tmp_path):
    done = prover("prove", "--names", "mathd_algebra_104", *QUICK, "--workers", "1", "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert f"report: {tmp_path / 'run' / 'report.html'}" in done.stdout
    assert 'id="tree-mathd_algebra_104"' in html_of(tmp_path / "run" / "report.html")


# In a real browser: headless Chromium (Debian's `chromium`, driven by playwright) opens the pages from disk. The
# screenshots stay in test-artifacts/ (or $TEST_ARTIFACTS) for a person to look at.
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts"))


def in_chromium(page_file: Path, screenshot: str, look):
    """Open `page_file` in headless Chromium, run `look(page)`, keep a full-page screenshot; the console's errors and
    warnings, and every URL the page asked for."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium here (apt install chromium; .ci/run installs it)")
    problems, asked = [], []
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])  # CI runs as root
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("request", lambda request: asked.append(request.url))
            page.goto(page_file.as_uri(), wait_until="load")
            look(page)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / screenshot, full_page=True)
        finally:
            browser.close()
    return problems, asked


@pytest.mark.rocq
def test_the_report_opens_in_chromium_with_its_plots_tables_and_a_tree_that_unfolds(runs):
    root, _ = runs

    def look(page):
        for section in ("#summary table", "#cactus svg", "#categories table", "#categories svg"):
            box = page.locator(section).first.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50, section
        assert "aime_1984_p15" in page.locator("#summary").inner_text() or page.locator("#thm-aime_1984_p15").count()
        page.locator("#thm-aime_1984_p15 > summary").click()
        page.locator("#tree-aime_1984_p15 > summary").click()
        assert page.locator("#tree-aime_1984_p15 code.onproof").first.is_visible()  # the proof path, marked

    problems, asked = in_chromium(root / "wide" / "report.html", "report.png", look)
    assert problems == []
    assert all(url.startswith(("file:", "data:")) for url in asked), asked
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


@pytest.mark.rocq
def test_a_two_run_comparison_opens_in_chromium_with_the_gained_theorem_side_by_side(runs, tmp_path):
    root, _ = runs
    out = tmp_path / "compare.html"
    assert prover("report", root / "narrow", root / "wide", "--html", out).returncode == 0

    def look(page):
        gained = page.locator("#comparison")
        assert gained.is_visible() and "aime_1984_p15" in gained.inner_text()
        assert page.locator("#cactus svg").first.bounding_box()["width"] > 100

    problems, asked = in_chromium(out, "comparison.png", look)
    assert problems == [] and all(url.startswith(("file:", "data:")) for url in asked), (problems, asked)
