"""Distribution metrics: precision and recall tell typical samples from varied ones."""

import numpy as np

from genstudio.eval.metrics import precision_recall, within_group_spread


def test_precision_and_recall_tell_a_collapsed_generator_from_a_faithful_one():
    rng = np.random.default_rng(0)
    real, faithful = rng.normal(size=(1500, 8)), rng.normal(size=(1500, 8))
    collapsed = rng.normal(size=(1500, 8)) * 0.3  # prototypes: typical, not varied
    precision, recall = precision_recall(real, faithful)
    assert precision > 0.8 and recall > 0.8
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.95 and recall < 0.1
    off = rng.normal(size=(1500, 8)) + 4  # elsewhere: neither
    assert max(precision_recall(real, off)) < 0.1


def test_within_group_spread_is_low_for_prototypes():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(4), 100)
    varied = rng.normal(size=(400, 8)) + groups[:, None] * 5
    prototypes = rng.normal(size=(400, 8)) * 0.1 + groups[:, None] * 5
    assert within_group_spread(prototypes, groups) < 0.2 * within_group_spread(varied, groups)
