"""Wall time of every figure of the book (chapters 2-13) at the scale its script runs by default (the book's,
except where the README says otherwise), plus plain-Python baselines for the speed-up claims of chapters 5-6.

    flock /tmp/playground-cpu.lock python rl/rl-book/benchmark.py [--chapters 7 8] [--write-figures]

Each figure script runs as a user runs it (a fresh process, imports included), with --out in a temporary
folder, or with --write-figures into its chapter folder (this is how the committed figures are made).
Writes benchmark.md and benchmark.json beside this file (only when every chapter is timed).
"""
import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from shared.cli import ArgumentParser, main_guard

HERE = Path(__file__).resolve().parent
FIGURES = {  # chapter -> [(the book's figure(s), script)]
    2: [("2.1-2.6", "chapter2/bandits.py")],
    3: [("3.2, 3.5", "chapter3/gridworld.py")],
    4: [("4.1", "chapter4/small_gridworld.py"),
        ("4.2", "chapter4/jacks_car_rental.py"),
        ("4.3", "chapter4/gamblers_problem.py")],
    5: [("5.1", "chapter5/blackjack_prediction.py"),
        ("5.2", "chapter5/blackjack_es.py"),
        ("5.3", "chapter5/importance_sampling.py"),
        ("5.4", "chapter5/infinite_variance.py")],
    6: [("6.1", "chapter6/driving_home.py"),
        ("Ex 6.2", "chapter6/random_walk.py"),
        ("6.2", "chapter6/batch_updating.py"),
        ("Ex 6.5", "chapter6/windy_gridworld.py"),
        ("Ex 6.6", "chapter6/cliff_walking.py"),
        ("6.3", "chapter6/cliff_step_sizes.py"),
        ("6.5", "chapter6/maximization_bias.py")],
    7: [("7.2", "chapter7/random_walk_n_step.py"),
        ("7.4", "chapter7/sarsa_path.py")],
    8: [("8.2", "chapter8/dyna_maze.py"),
        ("8.3", "chapter8/dyna_policies.py"),
        ("8.4, 8.5", "chapter8/changing_mazes.py"),
        ("Ex 8.4", "chapter8/prioritized_sweeping.py"),
        ("8.7", "chapter8/expected_vs_sample.py"),
        ("8.8", "chapter8/trajectory_sampling.py")],
    9: [("9.1", "chapter9/state_aggregation.py"),
        ("9.2", "chapter9/td_aggregation.py"),
        ("9.5", "chapter9/bases.py"),
        ("9.8", "chapter9/coarse_coding.py"),
        ("9.10", "chapter9/tile_coding.py")],
    10: [("10.1", "chapter10/cost_to_go.py"),
         ("10.2", "chapter10/learning_curves.py"),
         ("10.3", "chapter10/n_step_curves.py"),
         ("10.4", "chapter10/n_step_alphas.py"),
         ("10.5", "chapter10/access_control.py")],
    11: [("11.2", "chapter11/baird_divergence.py"),
         ("11.5", "chapter11/baird_tdc.py"),
         ("11.6", "chapter11/baird_emphatic.py")],
    12: [("12.3, 12.6, 12.8", "chapter12/random_walk.py"),
         ("12.10, 12.11", "chapter12/sarsa_lambda.py"),
         ("12.14", "chapter12/lambda_effect.py")],
    13: [("Ex 13.1", "chapter13/short_corridor.py"),
         ("13.1", "chapter13/reinforce.py"),
         ("13.2", "chapter13/reinforce_baseline.py")],
}


def time_script(script, out):
    t0 = time.perf_counter()
    command = [sys.executable, str(HERE / script)] + ([] if out is None else ["--out", str(out)])
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{script} failed:\n{result.stderr}")
    return time.perf_counter() - t0


def python_loop_baselines():
    """Per-episode Python loops, timed on a slice and scaled up to the figure's size."""
    import gymnasium as gym
    sys.path.insert(0, str(HERE / "chapter6"))
    rows = []
    # Figure 5.1 with gymnasium's Blackjack-v1 stepped one episode at a time (the usual approach)
    env = gym.make("Blackjack-v1", sab=True)
    env.reset(seed=0)
    n = 20_000
    t0 = time.perf_counter()
    for _ in range(n):
        (total, _, _), _ = env.reset()
        done = False
        while not done:
            (total, _, _), _, done, *_ = env.step(int(total < 20))
    rows.append(("5.1", "gymnasium Blackjack-v1, one episode at a time", (time.perf_counter() - t0) * 500_000 / n))
    # Example 6.6: tabular Sarsa in plain Python on CliffWalking-v1 (100 runs x 500 episodes)
    env = gym.make("CliffWalking-v1")
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    runs = 2
    for _ in range(runs):
        Q = np.zeros((48, 4))
        def act(s):
            return int(rng.integers(4)) if rng.random() < 0.1 else int(rng.choice(np.flatnonzero(Q[s] == Q[s].max())))
        for _ in range(500):
            s, _ = env.reset(seed=int(rng.integers(1 << 30)))
            a, done = act(s), False
            while not done:
                s2, r, done, *_ = env.step(a)
                a2 = act(s2)
                Q[s, a] += 0.5 * (r + (0 if done else Q[s2, a2]) - Q[s, a])
                s, a = s2, a2
    rows.append(("Ex 6.6", "Sarsa in a Python loop on CliffWalking-v1", (time.perf_counter() - t0) * 100 / runs))
    return rows


def main():
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chapters", type=int, nargs="+", choices=sorted(FIGURES), default=sorted(FIGURES),
                        help="chapters to time (default: all, 2-13)")
    parser.add_argument("--write-figures", action="store_true", help="write PNG/JSON into the chapter folders")
    parser.add_argument("--no-baselines", action="store_true", help="skip the plain-Python baselines")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for chapter in args.chapters:
            for figure, script in FIGURES[chapter]:
                seconds = time_script(script, None if args.write_figures else Path(tmp))
                results.append({"chapter": chapter, "figure": figure, "script": script, "seconds": round(seconds, 2)})
                print(f"{figure:>9}  {script:<40} {seconds:7.1f} s", flush=True)
    total = sum(r["seconds"] for r in results)
    print(f"{'total':>9}  {'':<40} {total:7.1f} s")
    if sorted(args.chapters) != sorted(FIGURES):
        return  # a partial run prints its times; the committed benchmark.md covers the whole book
    baselines = [] if args.no_baselines else python_loop_baselines()
    ours = {r["figure"]: r["seconds"] for r in results}
    per_chapter = {c: sum(r["seconds"] for r in results if r["chapter"] == c) for c in FIGURES}
    lines = ["# Benchmark: every figure of chapters 2-13 at the scripts' default (book) scale", "",
             f"Machine: {platform.processor() or platform.machine()}, numpy {np.__version__}, python {platform.python_version()}; "
             "each time is a fresh process (imports, ~3 s, included).", "",
             "| chapter | figure | script | wall time (s) |", "|---|---|---|---|"]
    lines += [f"| {r['chapter']} | {r['figure']} | `{r['script']}` | {r['seconds']:.1f} |" for r in results]
    lines += [f"| | **total** | | **{total:.1f}** ({total / 60:.1f} min) |", "",
              "Per chapter (s): " + ", ".join(f"{c}: {t:.0f}" for c, t in per_chapter.items()), ""]
    if baselines:
        lines += ["Plain-Python baselines (timed on a slice, scaled to the figure):", "",
                  "| figure | baseline | estimated (s) | ours (s) | speed-up |", "|---|---|---|---|---|"]
        for fig, what, sec in baselines:
            lines.append(f"| {fig} | {what} | {sec:.0f} | {ours[fig]:.1f} | {sec / ours[fig]:.0f}x |")
    (HERE / "benchmark.md").write_text("\n".join(lines) + "\n")
    (HERE / "benchmark.json").write_text(json.dumps({"figures": results, "total_seconds": round(total, 1),
                                                     "per_chapter_seconds": per_chapter,
                                                     "baselines": [dict(zip(("figure", "baseline", "seconds"), b))
                                                                   for b in baselines]}, indent=1) + "\n")
    print("\n".join(lines[-len(baselines) - 1:]))


if __name__ == "__main__":
    main_guard(main)()
