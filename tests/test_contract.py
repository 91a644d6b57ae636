"""The README's promises, checked on every entry point of the repo, present and future.

An entry point is any `*.py` with an `if __name__ == "__main__":` block (outside tests/). Each one:
`--help` exits 0 quickly and writes no file; an unknown flag exits 2 with one line on stderr.
A training script (one that opens a `shared.cli.Run`) also keeps the run-folder contract, tried on a
real run folder (its own `--quick` run, stopped right after it wrote config.json):
a second run into the same --out while the first is alive, a --resume with another --seed, a corrupt
checkpoint, running again without --resume, and a non-finite value for each float flag, each exit 2 with
one line and leave the run folder byte-identical; Ctrl-C is one line (where the last checkpoint is, how to
go on) and exit code 130.

All subprocesses run two at a time (the machine has 2 cores).
"""
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared.paths import REPO_ROOT, data_root

SKIP_FOLDERS = {"tests", "runs", "data", "build", "dist", "__pycache__"}
MAIN_BLOCK = re.compile(r"^if __name__ == ['\"]__main__['\"]:", re.M)
OPENS_A_RUN = re.compile(r"\bRun\(")
HELP_SECONDS = 30  # generous: the machine is shared; a script that does its work before parsing takes minutes


def repo_files():
    for path in sorted(REPO_ROOT.rglob("*")):
        parts = path.relative_to(REPO_ROOT).parts
        if any(p.startswith(".") or p in SKIP_FOLDERS or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        if path.is_file() and not parts[-1].startswith("."):
            yield path


def entry_points():
    return [p for p in repo_files() if p.suffix == ".py" and MAIN_BLOCK.search(p.read_text(encoding="utf-8"))]


def helper_modules():
    """Modules beside the scripts (no main block, in a folder that is not a package): run by mistake, as
    `python chapter5/plots.py --help`, they must do nothing, not crash."""
    return [p for p in repo_files() if p.suffix == ".py" and p not in ENTRY_POINTS and not p.name.startswith("test_")
            and p.name != "conftest.py" and not (p.parent / "__init__.py").exists()]


def training_scripts():
    return [p for p in entry_points() if OPENS_A_RUN.search(p.read_text(encoding="utf-8"))]


ENTRY_POINTS = entry_points()
HELPERS = helper_modules()
TRAINING = training_scripts()
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
       "MPLBACKEND": "Agg"}


def name(path):
    return path.relative_to(REPO_ROOT).as_posix()


def run(script, *args, cwd, timeout=300):
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(script), *map(str, args)], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=timeout)
    done.seconds = time.perf_counter() - t0
    return done


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def repo_state():
    return {name(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in repo_files()}


def float_flags(help_text):
    """Flags whose default (as ArgumentDefaultsHelpFormatter prints it) is a float: they must refuse nan/inf."""
    flags = []
    for block in re.split(r"\n  (?=-)", help_text):
        flag = re.match(r"(--[\w-]+) [A-Z_]+", block)
        default = re.search(r"\(default: ([^)]*)\)", " ".join(block.split()))
        if flag and default and re.fullmatch(r"-?\d*\.\d+(e-?\d+)?|-?\d+e-?\d+", default.group(1)):
            flags.append(flag.group(1))
    return flags


def one_line_exit_2(done):
    lines = done.stderr.strip().splitlines()
    return done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr


def run_folder_contract(script, tmp):
    """The scenarios of the module docstring on one training script; returns {case: (CompletedProcess, same)}."""
    out, cases = tmp / "run", {}
    # Through a wrapper that restores Ctrl-C: a shell's background jobs (nohup ... &) start with SIGINT ignored.
    with_ctrl_c = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.executable, sys.argv[1:])"
    first = subprocess.Popen([sys.executable, "-c", with_ctrl_c, sys.executable, str(script), "--quick", "--out", str(out)],
                             cwd=tmp, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while not list(out.rglob("config.json")):  # in --out, or in a sweep's folder below it
            assert first.poll() is None, f"{name(script)} --quick ended before writing config.json: {first.stderr.read()}"
            assert time.time() < deadline, f"{name(script)} --quick wrote no config.json in 300 s"
            time.sleep(0.1)
        run_dir = min(out.rglob("config.json"), key=lambda p: len(p.parts)).parent
        first.send_signal(signal.SIGSTOP)  # alive and holding the lock, but no longer writing
        before = snapshot(out)
        second = run(script, "--quick", "--out", out, cwd=tmp)
        cases["concurrent run"] = (second, snapshot(out) == before)
        first.send_signal(signal.SIGINT)  # Ctrl-C
        first.send_signal(signal.SIGCONT)
        stderr = first.communicate(timeout=120)[1]
        cases["Ctrl-C"] = subprocess.CompletedProcess(first.args, first.returncode, "", stderr)
    finally:
        first.kill()
        first.wait()

    def attempt(case, *args):
        before = snapshot(out)
        done = run(script, *args, cwd=tmp)
        cases[case] = (done, snapshot(out) == before)

    attempt("run again without --resume", "--quick", "--out", out)
    attempt("resume with another --seed", "--quick", "--resume", "--seed", "7", "--out", out)
    checkpoint = run_dir / "checkpoint.pt"
    if checkpoint.exists():  # the stopped run got as far as a checkpoint: flip 200 bytes in its middle
        data = bytearray(checkpoint.read_bytes())
        mid = len(data) // 2
        data[mid:mid + 200] = bytes(b ^ 0xFF for b in data[mid:mid + 200])
        checkpoint.write_bytes(bytes(data))
    else:
        checkpoint.write_bytes(os.urandom(4096))
    attempt("corrupt checkpoint", "--quick", "--resume", "--out", out)
    return cases


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every subprocess of this module, two at a time."""
    tmp = tmp_path_factory.mktemp("contract")
    repo_before = repo_state()
    jobs = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for script in TRAINING if (data_root() / "MNIST").exists() else []:
            folder = tmp / re.sub(r"\W", "_", name(script))
            folder.mkdir()
            jobs[("run folder", script)] = pool.submit(run_folder_contract, script, folder)
        for script in ENTRY_POINTS:
            cwd = tmp / ("cwd_" + re.sub(r"\W", "_", name(script)))
            cwd.mkdir()
            jobs[("help", script)] = pool.submit(run, script, "--help", cwd=cwd, timeout=120)
            jobs[("unknown flag", script)] = pool.submit(run, script, "--no-such-flag", cwd=cwd, timeout=120)
        for module in HELPERS:
            jobs[("helper", module)] = pool.submit(run, module, "--help", cwd=tmp, timeout=120)
        results = {key: job.result() for key, job in jobs.items()}
        helps = {script: results[("help", script)].stdout for script in TRAINING}
        for script, text in helps.items():
            for flag in float_flags(text):
                jobs[("float", script, flag)] = pool.submit(run, script, "--quick", flag, "nan", "--out", tmp / "never",
                                                            cwd=tmp)
        results.update({key: job.result() for key, job in jobs.items() if key not in results})
    results["repo changed"] = sorted(k for k, v in repo_state().items() if repo_before.get(k) != v)
    results["cwds"] = {script: sorted(os.listdir(tmp / ("cwd_" + re.sub(r"\W", "_", name(script)))))
                       for script in ENTRY_POINTS}
    results["never"] = (tmp / "never").exists()
    return results


def test_discovery_finds_the_known_entry_points():
    found = {name(p) for p in ENTRY_POINTS}
    assert {"gan/ddpm/train.py", "nlp/gpt/embed.py", "rl/rl-book/chapter2/bandits.py", "shared/data.py"} <= found
    assert {"gan/ddpm/train.py", "gan/ddpm/train_classifier.py", "nlp/gpt/train.py"} <= {name(p) for p in TRAINING}
    assert "gan/ddpm/sample.py" not in {name(p) for p in TRAINING}
    assert {"rl/rl-book/chapter5/plots.py", "gan/ddpm/model.py"} <= {name(p) for p in HELPERS}


@pytest.mark.parametrize("script", ENTRY_POINTS, ids=name)
def test_help_is_fast_and_writes_nothing(results, script):
    done = results[("help", script)]
    assert done.returncode == 0 and done.stdout.startswith("usage:"), done.stderr[-2000:]
    assert done.seconds < HELP_SECONDS, f"--help took {done.seconds:.0f} s: parse the flags before doing any work"
    assert results["cwds"][script] == [], "--help wrote into the working directory"


@pytest.mark.parametrize("module", HELPERS, ids=name)
def test_helper_modules_run_as_scripts_do_nothing(results, module):
    """Item 12: `chapter5/plots.py --help` crashed (a helper module that looks like a script)."""
    done = results[("helper", module)]
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_help_changes_no_file_in_the_repo(results):
    assert results["repo changed"] == []


@pytest.mark.parametrize("script", ENTRY_POINTS, ids=name)
def test_unknown_flag_is_one_line_exit_2(results, script):
    done = results[("unknown flag", script)]
    assert one_line_exit_2(done), done.stderr[-2000:]


RUN_FOLDER_CASES = {"concurrent run": "another process is running in",
                    "run again without --resume": "already holds a run",
                    "resume with another --seed": "seed 7 (the run: 0)",
                    "corrupt checkpoint": "checkpoint"}


@pytest.mark.parametrize("case", RUN_FOLDER_CASES)
@pytest.mark.parametrize("script", TRAINING, ids=name)
def test_run_folder_contract(results, script, case):
    if ("run folder", script) not in results:
        pytest.skip("no data: export PLAYGROUND_DATA (CI sets it)")
    done, unchanged = results[("run folder", script)][case]
    assert one_line_exit_2(done), f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert RUN_FOLDER_CASES[case] in done.stderr
    assert unchanged, "the run folder changed"


@pytest.mark.parametrize("script", TRAINING, ids=name)
def test_ctrl_c_is_one_line_exit_130(results, script):
    if ("run folder", script) not in results:
        pytest.skip("no data: export PLAYGROUND_DATA (CI sets it)")
    done = results[("run folder", script)]["Ctrl-C"]
    last = (done.stderr.strip().splitlines() or [""])[-1]
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert last.startswith("interrupted; ") and ("--resume" in last or "--overwrite" in last), last


@pytest.mark.parametrize("script", TRAINING, ids=name)
def test_float_flags_must_be_finite(results, script):
    flags = [key[2] for key in results if key[:2] == ("float", script)]
    assert flags or not float_flags(results[("help", script)].stdout)
    for key, done in results.items():
        if key[:2] == ("float", script):
            assert one_line_exit_2(done) and "finite" in done.stderr, (key, done.stderr[-1000:])
    assert not results["never"], "a run with a non-finite flag created its run folder"
