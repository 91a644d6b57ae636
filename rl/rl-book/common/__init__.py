"""Code that several chapters of the RL book share: finite MDP environments and plot helpers.

Chapter scripts put rl/rl-book/ on sys.path and `from common.tabular import TabularEnv`.
"""
