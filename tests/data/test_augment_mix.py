"""Mixup / CutMix (soft targets) and kornia's RandAugment: shapes, label mixing, determinism under a seed."""

from __future__ import annotations

import pytest
import torch

from edgevit.data import AugmentConfig, BatchTransform
from edgevit.data.augment import beta_quantile, mix_batch, randaugment
from edgevit.errors import DataError


def _batch(n: int = 16, size: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, size, size, generator=g), torch.randint(0, 5, (n,), generator=g)


@pytest.mark.parametrize("mixup, cutmix", [(0.8, 0.0), (0.0, 1.0), (0.8, 1.0)])
def test_mixed_targets_are_distributions_over_the_two_mixed_labels(mixup, cutmix):
    x, y = _batch()
    for seed in range(6):
        xm, t = mix_batch(x, y, 5, mixup, cutmix, 1.0, torch.Generator().manual_seed(seed))
        assert xm.shape == x.shape and t.shape == (16, 5)
        assert torch.allclose(t.sum(1), torch.ones(16))
        assert ((t > 0).sum(1) <= 2).all()
        # all the mass sits on the image's own label and its mirror's (x[::-1]), with one lambda per batch
        i = torch.arange(16)
        pair = torch.where(y == y.flip(0), t[i, y], t[i, y] + t[i, y.flip(0)])
        assert torch.allclose(pair, torch.ones(16))
        differ = y != y.flip(0)
        assert torch.allclose(t[i, y][differ], t[i, y][differ][0].expand(int(differ.sum())))


def test_cutmix_label_weights_equal_the_pasted_pixel_share():
    x = torch.zeros(8, 1, 16, 16)
    x[4:] = 1.0  # the mirror of each image in the first half is all ones
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    for seed in range(10):
        xm, t = mix_batch(x, y, 2, 0.0, 1.0, 1.0, torch.Generator().manual_seed(seed))
        pasted = xm[0].mean()  # share of image 0 that now shows its mirror (ones)
        assert torch.isclose(t[0, 1], pasted, atol=1e-6)


def test_mixing_is_deterministic_under_a_seed_and_off_when_prob_is_zero():
    x, y = _batch()
    a = mix_batch(x, y, 5, 0.8, 1.0, 1.0, torch.Generator().manual_seed(3))
    b = mix_batch(x, y, 5, 0.8, 1.0, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    xm, t = mix_batch(x, y, 5, 0.8, 1.0, 0.0, torch.Generator().manual_seed(3))
    assert torch.equal(xm, x) and torch.equal(t.argmax(1), y) and torch.equal(t.max(1).values, torch.ones(16))


def test_beta_quantile_is_symmetric_and_in_range():
    for a in (0.2, 0.8, 1.0, 2.0):
        lo, hi = beta_quantile(a, 0.1), beta_quantile(a, 0.9)
        assert 0.0 < lo < 0.5 < hi < 1.0
        assert abs(lo + hi - 1.0) < 2e-3
    assert abs(beta_quantile(1.0, 0.3) - 0.3) < 2e-3  # Beta(1, 1) is uniform


def test_randaugment_keeps_shape_and_range_and_follows_the_torch_seed():
    x, _ = _batch(8, 16)
    torch.manual_seed(1)
    a = randaugment(x, 9, 2)
    torch.manual_seed(1)
    b = randaugment(x, 9, 2)
    assert a.shape == x.shape and torch.equal(a, b)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert not torch.equal(a, x)


def test_batch_transform_applies_randaugment_only_in_training():
    from edgevit.runtimes.contract import Preprocess

    pre = Preprocess(size=(16, 16), channels=3, mean=(0.5,) * 3, std=(0.5,) * 3)
    imgs = torch.randint(0, 256, (8, 16, 16, 3), dtype=torch.uint8)
    aug = AugmentConfig(randaugment=15)
    torch.manual_seed(0)
    trained = BatchTransform(pre, train=True, augment=aug, seed=0)(imgs)
    plain = BatchTransform(pre, train=False, augment=aug, seed=0)(imgs)
    assert trained.shape == plain.shape == (8, 3, 16, 16)
    assert not torch.equal(trained, plain)
    with pytest.raises(DataError):
        AugmentConfig(randaugment=30)
