"""Domain classifier used only for evaluation (accuracy, class coverage, Frechet distance)."""
from __future__ import annotations

import torch
from torch import nn

from genstudio.registry import register


@register("small_cnn_classifier")
class SmallCNN(nn.Module):
    """Two conv blocks and a 128-d feature layer; the features feed the Frechet distance.

    Args:
        num_classes: number of labels.
        channels: image channels.
        width: channels of the first block (the second has 2x).
    """

    def __init__(self, num_classes: int = 10, channels: int = 1, width: int = 32):
        super().__init__()
        def block(cin, cout):
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2),
            )
        self.body = nn.Sequential(block(channels, width), block(width, 2 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * width, 128), nn.ReLU())
        self.head = nn.Linear(128, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x in [0, 1] -> 128-d features."""
        return self.embed(self.body(x * 2 - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
