"""Storages into directories: staged, journaled, swapped in after the commit.

``targets`` decides which storages a load may restore, ``preflight`` and
``protected`` check every swap before the commit, ``swaps`` does them (roll
forward only), ``journal`` records them so that ``recovery`` can finish a load
stopped past its commit, and ``diff`` says what a swap would change.
"""
