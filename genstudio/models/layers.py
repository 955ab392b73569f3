"""Small building blocks shared by several families."""
from __future__ import annotations

import torch
from torch import nn

from genstudio.errors import UserError


def class_weights(labels: torch.Tensor | None, num_classes: int, batch: int, device) -> torch.Tensor:
    """Labels as a (B, K) weight matrix: int labels become one-hot, (B, K) floats pass through.

    Soft weights are what make class blends and class walks possible: the
    conditioning is linear in them, so mixing two rows mixes two classes.
    """
    if labels is None:
        raise UserError("this model is class-conditional: labels are required")
    if labels.dim() == 1:
        return torch.nn.functional.one_hot(labels.long().to(device), num_classes).float()
    if labels.shape != (batch, num_classes):
        raise UserError(f"soft labels must have shape ({batch}, {num_classes}), got {tuple(labels.shape)}")
    return labels.float().to(device)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift come from the class (de Vries et al. 2017); plain BN if K = 0."""

    def __init__(self, channels: int, num_classes: int = 0):
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(channels, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Linear(num_classes, channels, bias=False)
            self.bias = nn.Linear(num_classes, channels, bias=False)
            nn.init.zeros_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        h = self.bn(x)
        if not self.num_classes:
            return h
        return h * (1 + self.gain(weights)[:, :, None, None]) + self.bias(weights)[:, :, None, None]
