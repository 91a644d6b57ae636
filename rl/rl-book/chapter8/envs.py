"""Chapter 8's environments: the mazes of Sections 8.2-8.4, all TabularEnvs (gymnasium Envs with their model).

Maze           a gridworld drawn as text: '#' wall, 'S' start, 'G' goal (+1 on entering it, the episode ends),
               0 on every other step; moves into a wall or off the grid leave the agent where it is.
DYNA_MAZE      Figure 8.2's 6x9 maze.
BLOCKING_MAZE  Figure 8.4: the gap in the wall moves from the right end to the left end.
SHORTCUT_MAZE  Figure 8.5: a second gap opens at the right end.
ChangingMaze   a maze that swaps its layout after a given number of time steps (counted across episodes).
scaled_layout  the Dyna maze with every cell replaced by a block of cells (Example 8.4, after Peng & Williams).
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # rl-book/, for common/
from common.tabular import MOVES, TabularEnv, clip_move, grid_model  # noqa: E402

DYNA_MAZE = (".......#G",
             "..#....#.",
             "S.#....#.",
             "..#......",
             ".....#...",
             ".........")
BLOCKING_MAZE = ("........G", ".........", ".........", "########.", ".........", "...S.....")
BLOCKING_MAZE_LATER = ("........G", ".........", ".........", ".########", ".........", "...S.....")
SHORTCUT_MAZE = BLOCKING_MAZE_LATER
SHORTCUT_MAZE_LATER = ("........G", ".........", ".........", ".#######.", ".........", "...S.....")


def scaled_layout(layout, row_factor, col_factor):
    """Each cell becomes a row_factor x col_factor block; the start stays one cell (the block's top-left),
    the goal becomes the whole block. Doubling columns and rows in turn doubles the number of open cells."""
    rows = []
    for i, line in enumerate(layout):
        for k in range(row_factor):
            cells = []
            for ch in line:
                block = ch * col_factor
                if ch == "S":
                    block = ("S" if k == 0 else ".") + "." * (col_factor - 1)
                cells.append(block)
            rows.append("".join(cells))
    return tuple(rows)


class Maze(TabularEnv):
    def __init__(self, layout=DYNA_MAZE):
        self.layout = tuple(layout)
        self.shape = (len(layout), len(layout[0]))
        grid = np.array([list(line) for line in layout])
        self.wall = grid == "#"
        goal = (grid == "G").ravel()

        def transition(cell, a):
            cell2, _ = clip_move(cell, MOVES[a], self.shape)
            if self.wall[cell2]:
                cell2 = cell
            return cell2, float(grid[cell2] == "G")

        P, R = grid_model(self.shape, transition)
        start = (grid == "S").ravel().astype(float)
        super().__init__(P, R, start, terminal=goal)
        self.start_state = int(start.argmax())
        self.n_open = int((~self.wall).sum())

    def cell(self, s):
        return divmod(int(s), self.shape[1])

    def shortest_path(self):
        """Steps from the start to the nearest goal (breadth-first search over the model)."""
        dist = np.full(self.n_states, -1)
        dist[self.start_state], frontier = 0, [self.start_state]
        while frontier:
            nxt = np.unique(self._next[frontier].ravel())
            nxt = nxt[dist[nxt] < 0]
            dist[nxt] = dist[frontier[0]] + 1
            if self.terminal[nxt].any():
                return int(dist[nxt[0]])
            frontier = list(nxt)
        raise ValueError("the goal cannot be reached")


class ChangingMaze(Maze):
    """A maze whose layout changes once, after `change_at` time steps (Figures 8.4 and 8.5).

    The gymnasium `step` counts steps across episodes and swaps in the new layout by itself; vectorized
    learners (many runs in lockstep) call `set_phase` at the same step instead. P, R always describe the
    current layout, so the model stays exact at every moment.
    """

    def __init__(self, before, after, change_at):
        self.layouts, self.change_at = (Maze(before), Maze(after)), change_at
        super().__init__(before)
        self.t = 0

    def set_phase(self, changed):
        m = self.layouts[int(changed)]
        self.layout, self.wall, self.P, self.R, self.r, self._next = m.layout, m.wall, m.P, m.R, m.r, m._next
        self._cdf = m._cdf

    def reset(self, *, seed=None, options=None):
        if seed is not None:  # a new experiment: the old layout again
            self.t = 0
            self.set_phase(False)
        return super().reset(seed=seed, options=options)

    def step(self, action):
        out = super().step(action)
        self.t += 1
        if self.t == self.change_at:
            self.set_phase(True)
        return out


def blocking_maze():
    return ChangingMaze(BLOCKING_MAZE, BLOCKING_MAZE_LATER, change_at=1000)


def shortcut_maze():
    return ChangingMaze(SHORTCUT_MAZE, SHORTCUT_MAZE_LATER, change_at=3000)
