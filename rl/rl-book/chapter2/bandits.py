"""Chapter 2 of Sutton & Barto: the 10-armed testbed and its action-value methods.

    python rl/rl-book/chapter2/bandits.py            # Figures 2.1-2.6 at the book's scale (2,000 runs x 1,000 steps)
    python rl/rl-book/chapter2/bandits.py --quick    # 200 runs, for a fast look
    python rl/rl-book/chapter2/bandits.py --figures 2.2 2.4

Every method acts on all runs at once: the state of 2,000 independent bandit problems is a
(runs, k) array, and one time step is a handful of numpy operations on it. That is what makes
the book's 2,000 x 1,000 experiments take a fraction of a second per curve.
"""
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # rl-book/, for common/
from common.policies import argmax_random_ties  # noqa: E402
from common.script import figure_parser  # noqa: E402
from shared.cli import main_guard, positive_int  # noqa: E402
from shared.errors import PlaygroundError  # noqa: E402

K = 10


# ----------------------------------------------------------------------------- the methods
@dataclass
class EpsilonGreedy:
    """Action values by sample averages (step_size=None) or a constant step size; epsilon-greedy choice.

    initial > 0 gives the optimistic-initial-values method of Section 2.6.
    """
    epsilon: float = 0.0
    step_size: float = None
    initial: float = 0.0

    def reset(self, runs: int, k: int) -> None:
        self.Q = np.full((runs, k), self.initial, dtype=np.float64)
        self.N = np.zeros((runs, k), dtype=np.int64)

    def act(self, t: int, rng: np.random.Generator) -> np.ndarray:
        actions = argmax_random_ties(self.Q, rng)
        explore = rng.random(len(actions)) < self.epsilon
        actions[explore] = rng.integers(0, self.Q.shape[1], explore.sum())
        return actions

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        rows = np.arange(len(actions))
        self.N[rows, actions] += 1
        alpha = 1.0 / self.N[rows, actions] if self.step_size is None else self.step_size
        self.Q[rows, actions] += alpha * (rewards - self.Q[rows, actions])  # (2.3) / (2.5)


@dataclass
class UCB(EpsilonGreedy):
    """Upper-confidence-bound selection (2.10): Q + c sqrt(ln t / N); untried arms count as maximizing."""
    c: float = 2.0

    def act(self, t: int, rng: np.random.Generator) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = self.c * np.sqrt(np.log(t) / self.N)
        return argmax_random_ties(np.where(self.N == 0, np.inf, self.Q + bonus), rng)


@dataclass
class GradientBandit:
    """Soft-max preferences H updated by stochastic gradient ascent on expected reward (2.12).

    The baseline is the average of the rewards before time t (R-bar_1 = R_1); without it the
    preferences chase the raw reward, which is bad when all rewards are around +4 (Figure 2.5).
    """
    alpha: float = 0.1
    baseline: bool = True

    def reset(self, runs: int, k: int) -> None:
        self.H = np.zeros((runs, k))
        self.mean_reward = np.zeros(runs)
        self.t = 0

    def policy(self) -> np.ndarray:
        z = np.exp(self.H - self.H.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def act(self, t: int, rng: np.random.Generator) -> np.ndarray:
        self.pi = self.policy()
        u = rng.random((len(self.pi), 1))
        return np.minimum((self.pi.cumsum(axis=1) < u).sum(axis=1), self.pi.shape[1] - 1)

    def update(self, actions: np.ndarray, rewards: np.ndarray) -> None:
        self.t += 1
        if self.baseline:
            baseline = rewards if self.t == 1 else self.mean_reward
            self.mean_reward = self.mean_reward + (rewards - self.mean_reward) / self.t
        else:
            baseline = 0.0
        one_hot = np.zeros_like(self.H)
        one_hot[np.arange(len(actions)), actions] = 1.0
        self.H += self.alpha * (rewards - baseline)[:, None] * (one_hot - self.pi)


def simulate(agent, runs: int = 2000, steps: int = 1000, seed: int = 0, k: int = K, true_mean: float = 0.0) -> dict:
    """Run `agent` on `runs` independent k-armed testbeds; return per-step averages over runs.

    q*(a) ~ N(true_mean, 1), rewards ~ N(q*(A_t), 1). The same seed gives the same testbeds, so
    methods compared in one figure face the same problems.
    """
    rng = np.random.default_rng(seed)
    q_star = rng.normal(true_mean, 1.0, (runs, k))
    best = q_star.argmax(axis=1)
    rows = np.arange(runs)
    agent.reset(runs, k)
    reward_mean, optimal = np.empty(steps), np.empty(steps)
    for t in range(1, steps + 1):
        actions = agent.act(t, rng)
        rewards = rng.normal(q_star[rows, actions], 1.0)
        agent.update(actions, rewards)
        reward_mean[t - 1] = rewards.mean()
        optimal[t - 1] = (actions == best).mean()
    return {"reward": reward_mean, "optimal": optimal}


# ----------------------------------------------------------------------------- the figures
def figure_2_1(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    q_star = rng.normal(0, 1, K)
    samples = q_star + rng.normal(0, 1, (2000, K))
    return {"q_star": q_star, "samples": samples}


def figure_2_2(runs, steps, seed):
    return {f"epsilon={e}": simulate(EpsilonGreedy(epsilon=e), runs, steps, seed) for e in (0.0, 0.01, 0.1)}


def figure_2_3(runs, steps, seed):
    return {
        "optimistic greedy Q1=5, eps=0": simulate(EpsilonGreedy(0.0, step_size=0.1, initial=5.0), runs, steps, seed),
        "realistic eps-greedy Q1=0, eps=0.1": simulate(EpsilonGreedy(0.1, step_size=0.1, initial=0.0), runs, steps, seed),
    }


def figure_2_4(runs, steps, seed):
    return {
        "UCB c=2": simulate(UCB(c=2.0), runs, steps, seed),
        "eps-greedy eps=0.1": simulate(EpsilonGreedy(0.1), runs, steps, seed),
    }


def figure_2_5(runs, steps, seed):
    return {f"alpha={a}, {'with' if b else 'without'} baseline": simulate(GradientBandit(a, b), runs, steps, seed, true_mean=4.0)
            for b in (True, False) for a in (0.1, 0.4)}


PARAMETER_STUDY = {  # method -> (parameter name, exponents of 2, agent factory); the book's x-axis is 1/128 ... 4
    "eps-greedy": ("epsilon", range(-7, -1), lambda p: EpsilonGreedy(epsilon=p)),
    "gradient bandit": ("alpha", range(-5, 3), lambda p: GradientBandit(alpha=p)),
    "UCB": ("c", range(-4, 3), lambda p: UCB(c=p)),
    "greedy with optimistic init, alpha=0.1": ("Q0", range(-2, 3), lambda p: EpsilonGreedy(0.0, step_size=0.1, initial=p)),
}


def figure_2_6(runs, steps, seed):
    """Average reward over the first `steps` steps, for each method and parameter value."""
    return {name: {"parameter": param, "values": [2.0 ** e for e in exps],
                   "mean_reward": [simulate(make(2.0 ** e), runs, steps, seed)["reward"].mean() for e in exps]}
            for name, (param, exps, make) in PARAMETER_STUDY.items()}


# ----------------------------------------------------------------------------- plotting
def _curves(results: dict, title: str, path: Path, book_note: str, reward_panel=True):
    import matplotlib.pyplot as plt
    from shared.plotting import save_figure

    panels = (["reward"] if reward_panel else []) + ["optimal"]
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 3.2 * len(panels)), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], panels):
        for label, curves in results.items():
            y = curves[key] * (100 if key == "optimal" else 1)
            ax.plot(np.arange(1, len(y) + 1), y, label=label)
        ax.set_ylabel("Average reward" if key == "reward" else "% Optimal action")
        if key == "optimal":
            ax.set_ylim(0, 100)
    axes[0, 0].set_title(f"{title}\n{book_note}")
    axes[-1, 0].set_xlabel("Steps")
    axes[0, 0].legend(loc="lower right")
    data = {label: {k: np.round(v, 4) for k, v in c.items()} for label, c in results.items()}
    return save_figure(fig, path, data)


def plot_figure_2_1(data, out: Path):
    import matplotlib.pyplot as plt
    from shared.plotting import save_figure

    fig, ax = plt.subplots(figsize=(7, 4))
    parts = ax.violinplot(data["samples"], positions=np.arange(1, K + 1), showextrema=False, widths=0.8)
    for body in parts["bodies"]:
        body.set_facecolor("#9e9e9e")
        body.set_alpha(0.6)
    ax.hlines(data["q_star"], np.arange(1, K + 1) - 0.35, np.arange(1, K + 1) + 0.35, color="k")
    for a, q in enumerate(data["q_star"], start=1):
        ax.text(a + 0.38, q, f"$q_*({a})$", va="center", fontsize=7)
    ax.axhline(0, ls="--", color="gray", lw=0.8)
    ax.set_xticks(range(1, K + 1))
    ax.set(xlabel="Action", ylabel="Reward distribution", title="Figure 2.1: an example bandit problem from the 10-armed testbed")
    return save_figure(fig, out, {"q_star": data["q_star"]})


def plot_figure_2_6(study, out: Path):
    import matplotlib.pyplot as plt
    from shared.plotting import save_figure

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, s in study.items():
        line, = ax.plot(s["values"], s["mean_reward"], marker="o", ms=3, label=f"{name} ({s['parameter']})")
    ax.set_xscale("log", base=2)
    ticks = [2.0 ** e for e in range(-7, 3)]
    ax.set_xticks(ticks, ["1/128", "1/64", "1/32", "1/16", "1/8", "1/4", "1/2", "1", "2", "4"])
    ax.set(xlabel=r"$\varepsilon$   $\alpha$   $c$   $Q_0$", ylabel="Average reward over first 1000 steps",
           title="Figure 2.6: parameter study of the bandit algorithms")
    ax.legend(loc="lower center", fontsize=8)
    return save_figure(fig, out, study)


FIGURES = ("2.1", "2.2", "2.3", "2.4", "2.5", "2.6")


def make_figure(name: str, runs: int, steps: int, seed: int, out_dir: Path) -> Path:
    if name == "2.1":
        return plot_figure_2_1(figure_2_1(seed), out_dir / "figure_2_1")
    if name == "2.2":
        return _curves(figure_2_2(runs, steps, seed), "Figure 2.2: epsilon-greedy vs greedy, sample averages",
                       out_dir / "figure_2_2", f"{runs} runs of the 10-armed testbed")
    if name == "2.3":
        return _curves(figure_2_3(runs, steps, seed), "Figure 2.3: optimistic initial values (alpha = 0.1)",
                       out_dir / "figure_2_3", f"{runs} runs", reward_panel=False)
    if name == "2.4":
        return _curves(figure_2_4(runs, steps, seed), "Figure 2.4: UCB vs epsilon-greedy",
                       out_dir / "figure_2_4", f"{runs} runs", reward_panel=True)
    if name == "2.5":
        return _curves(figure_2_5(runs, steps, seed), "Figure 2.5: gradient bandit, q*(a) ~ N(+4, 1)",
                       out_dir / "figure_2_5", f"{runs} runs", reward_panel=False)
    if name == "2.6":
        return plot_figure_2_6(figure_2_6(runs, steps, seed), out_dir / "figure_2_6")
    raise PlaygroundError(f"unknown figure '{name}'; choose from {', '.join(FIGURES)}")


def main(argv=None):
    parser = figure_parser(__doc__, HERE)
    parser.add_argument("--runs", type=positive_int, default=2000, help="independent bandit problems (book: 2000; --quick: 200)")
    parser.add_argument("--steps", type=positive_int, default=1000, help="time steps per run (book: 1000)")
    parser.add_argument("--figures", nargs="+", default=list(FIGURES), choices=FIGURES, metavar="FIG",
                        help=f"which figures to make, from {' '.join(FIGURES)}")
    args = parser.parse_args(argv)
    runs = 200 if args.quick else args.runs
    for name in args.figures:
        t0 = time.perf_counter()
        path = make_figure(name, runs, args.steps, args.seed, args.out)
        print(f"Figure {name}: {path}  ({time.perf_counter() - t0:.1f} s)", file=sys.stderr)


if __name__ == "__main__":
    main_guard(main)()
