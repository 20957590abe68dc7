"""Test helpers for users: a runner test case with a toy model, dataset and metric.

Importing this package does not register the toy parts; ``RunnerTestCase.setUp`` does.
"""

from __future__ import annotations

from torchrig.testing.runner_test_case import RunnerTestCase, ToyDataset, ToyMetric, ToyModel

__all__ = ["RunnerTestCase", "ToyDataset", "ToyMetric", "ToyModel"]
