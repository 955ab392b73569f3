"""The networks' fast paths compute what the textbook operations compute, values and gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genstudio.models.inpaint import FourierUnit
from genstudio.models.layers import ConditionalBatchNorm2d, upsample_conv3x3
from genstudio.models.sr import bicubic_upsample
from genstudio.tasks.images import unpremultiply


@pytest.mark.parametrize("shape", [(2, 5, 4, 4), (3, 2, 7, 5), (1, 3, 1, 1)])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_upsample_conv3x3_is_nearest_upsampling_then_the_conv(shape, memory_format):
    torch.manual_seed(0)
    conv = nn.Conv2d(shape[1], 6, 3, padding=1)
    x = torch.randn(shape).contiguous(memory_format=memory_format).requires_grad_()
    fast = upsample_conv3x3(x, conv)
    slow = conv(F.interpolate(x, scale_factor=2, mode="nearest"))
    assert fast.shape == slow.shape == (shape[0], 6, 2 * shape[2], 2 * shape[3])
    assert torch.allclose(fast, slow, atol=1e-5)
    upstream = torch.randn_like(slow)
    for a, b in zip(
        torch.autograd.grad(fast, [x, conv.weight, conv.bias], upstream),
        torch.autograd.grad(slow, [x, conv.weight, conv.bias], upstream),
    ):
        assert torch.allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(2, 4, 8, 8), (1, 3, 5, 7), (1, 1, 1, 2)])
def test_bicubic_upsample_is_torchs_bicubic_interpolation(scale, shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(scale))
    fast = bicubic_upsample(x.contiguous(memory_format=torch.channels_last), scale)
    slow = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    assert fast.shape == slow.shape
    assert torch.allclose(fast, slow, atol=1e-5)  # x3's coordinates are inexact in float: ~1e-6 apart


def test_conditional_batchnorm_in_eval_folds_its_statistics_into_scale_and_shift():
    torch.manual_seed(0)
    norm = ConditionalBatchNorm2d(8, 3)
    nn.init.normal_(norm.gain.weight)
    nn.init.normal_(norm.bias.weight)
    for _ in range(5):  # running statistics away from 0 and 1
        norm(torch.randn(16, 8, 5, 5) * 3 + 1, torch.softmax(torch.randn(16, 3), 1))
    norm.eval()
    x, weights = torch.randn(4, 8, 5, 5), torch.softmax(torch.randn(4, 3), 1)
    textbook = norm.bn(x) * (1 + norm.gain(weights))[:, :, None, None] + norm.bias(weights)[:, :, None, None]
    assert torch.allclose(norm(x, weights), textbook, atol=1e-5)


def test_unpremultiply_divides_every_colour_by_its_alpha():
    alpha, colour = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")  # every uint8 pair
    images = np.stack([colour, colour // 2, np.minimum(colour, alpha), alpha], -1).astype(np.uint8)[None]
    straight = unpremultiply(images)
    a = alpha[None, ..., None].astype(np.float64)
    expected = np.where(a > 0, np.clip(np.round(images[..., :3] * 255.0 / np.maximum(a, 1)), 0, 255), 0)
    assert np.array_equal(straight[..., :3], expected) and np.array_equal(straight[..., 3], images[..., 3])
    assert straight[0, 255, 200, 0] == 200 and straight[0, 0, 200, 0] == 0 and straight[0, 100, 50, 0] == 128


@pytest.mark.parametrize("size", [(8, 8), (7, 10)])
def test_fourier_unit_starts_as_the_identity_and_sees_the_whole_map(size):
    torch.manual_seed(0)
    unit = FourierUnit(6)
    x = torch.randn(2, 6, *size).contiguous(memory_format=torch.channels_last).requires_grad_()
    assert torch.equal(unit(x), x)  # zero-initialised: adding it to a trained net changes nothing
    nn.init.normal_(unit.expand.weight)
    (unit(x)[:, :, 0, 0].sum()).backward()  # one corner pixel's output ...
    assert (x.grad[:, :, -1, -1].abs() > 0).all()  # ... depends on the opposite corner, in one layer
