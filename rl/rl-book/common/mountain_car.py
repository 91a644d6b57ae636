"""Mountain car (Example 10.1) with the book's dynamics, for chapters 10 and 12.

    x_dot' = bound[x_dot + 0.001 A - 0.0025 cos(3 x)]     x_dot in [-0.07, 0.07]
    x'     = bound[x + x_dot']                             x in [-1.2, 0.5]

A in {-1, 0, +1} is the throttle (reverse, zero, forward), our actions 0, 1, 2 as gymnasium's. At the left
bound x_dot is reset to zero; reaching x = 0.5 ends the episode. Reward -1 per step. Each episode starts at
x ~ U[-0.6, -0.4), x_dot = 0. There is no time limit: an episode runs until the goal, however long
(gymnasium's MountainCar-v0 has the same dynamics but stops after 200 steps, which early tile-coded Sarsa
episodes exceed by far).

`step` and `sample_start` work on arrays, so thousands of independent runs advance in one numpy call;
`MountainCarEnv` is the gymnasium Env of one run, built on the same `step`.
"""
import gymnasium as gym
import numpy as np
from gymnasium import spaces

POSITION_BOUNDS = (-1.2, 0.5)
VELOCITY_BOUNDS = (-0.07, 0.07)
GOAL = POSITION_BOUNDS[1]
N_ACTIONS = 3  # throttle A = action - 1


def step(position, velocity, action):
    """One step for each run: arrays position, velocity, action (0, 1, 2) -> position', velocity', reward, done."""
    throttle = np.asarray(action) - 1
    velocity = np.clip(velocity + 0.001 * throttle - 0.0025 * np.cos(3 * position), *VELOCITY_BOUNDS)
    position = np.clip(position + velocity, *POSITION_BOUNDS)
    velocity = np.where(position == POSITION_BOUNDS[0], 0.0, velocity)  # the inelastic wall on the left
    done = position >= GOAL
    return position, velocity, np.full(np.shape(position), -1.0), done


def sample_start(n, rng):
    """Start states of n episodes: position ~ U[-0.6, -0.4), velocity 0."""
    return rng.uniform(-0.6, -0.4, n), np.zeros(n)


class MountainCarEnv(gym.Env):
    """One run of mountain car as a gymnasium Env: observation (position, velocity), actions 0, 1, 2."""
    metadata = {"render_modes": []}

    def __init__(self):
        low, high = zip(POSITION_BOUNDS, VELOCITY_BOUNDS)
        self.observation_space = spaces.Box(np.array(low), np.array(high), dtype=np.float64)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self.state = None

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        position, velocity = sample_start(1, self.np_random)
        self.state = np.array([position[0], velocity[0]])
        return self.state.copy(), {}

    def step(self, action):
        position, velocity, reward, done = step(self.state[0], self.state[1], int(action))
        self.state = np.array([position, velocity], dtype=np.float64)
        return self.state.copy(), float(reward), bool(done), False, {}
