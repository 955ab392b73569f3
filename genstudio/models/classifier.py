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
        width: channels of the first block (each further block doubles them).
        num_styles: a second head for a second label group (emoji vendor style); 0 = none.
        blocks: conv blocks, each halving the resolution.
    """

    def __init__(self, num_classes: int = 10, channels: int = 1, width: int = 32, num_styles: int = 0, blocks: int = 2):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.Conv2d(cout, cout, 3, padding=1),
                nn.BatchNorm2d(cout),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )

        widths = [channels] + [width * 2**i for i in range(blocks)]
        self.body = nn.Sequential(
            *[block(a, b) for a, b in zip(widths, widths[1:])], nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.embed = nn.Sequential(nn.Dropout(0.3), nn.Linear(widths[-1], 128), nn.ReLU())
        self.head = nn.Linear(128, num_classes)
        if num_styles:
            self.style_head = nn.Linear(128, num_styles)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x in [0, 1] -> 128-d features."""
        return self.embed(self.body(x * 2 - 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
