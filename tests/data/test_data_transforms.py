"""BatchTransform (eval) == the contract's numpy preprocess_images; augmentations are shaped and seeded."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from edgevit.data import AugmentConfig, BatchTransform, default_preprocess, suggested_augment
from edgevit.data import augment as A
from edgevit.runtimes.contract import Preprocess, preprocess_images, resize_batch

SHAPES = [(8, 8, 1), (28, 28, 1), (32, 32, 3), (13, 17, 3), (40, 23, 1), (36, 36, 3)]
SIZES = [(32, 32), (36, 36), (24, 20), (8, 8)]


def _pre(size, channels, resize="bilinear"):
    mean = (0.49, 0.48, 0.45)[:channels]
    std = (0.25, 0.24, 0.26)[:channels]
    return Preprocess(size=size, channels=channels, mean=mean, std=std, resize=resize)


@pytest.mark.parametrize("resize", ["bilinear", "nearest"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("shape", SHAPES)
def test_eval_transform_matches_numpy_contract(shape, channels, resize):
    rng = np.random.default_rng(zlib.crc32(repr((shape, channels, resize)).encode()))  # stable across runs
    images = rng.integers(0, 256, (4, *shape), dtype=np.uint8)
    for size in SIZES:
        pre = _pre(size, channels, resize)
        want = preprocess_images(images, pre)
        got = BatchTransform(pre, train=False)(torch.from_numpy(images))
        assert got.dtype == torch.float32 and tuple(got.shape) == (4, channels, *size)
        assert np.abs(got.numpy() - want).max() < 1e-5, (shape, size, channels, resize)


def test_accepts_grey_without_channel_axis_and_numpy():
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8), dtype=np.uint8)
    pre = default_preprocess("digits", (16, 16))
    got = BatchTransform(pre, train=False)(images)
    np.testing.assert_allclose(got.numpy(), preprocess_images(images, pre), atol=1e-5)


@pytest.mark.parametrize("resize", ["bilinear", "nearest"])
def test_contract_resize_matches_torch_interpolate(resize):
    """The contract promises torch's F.interpolate semantics; pin that too (in 0..255 units)."""
    x = np.random.default_rng(1).integers(0, 256, (2, 13, 28, 3)).astype(np.float32)
    for size in [(32, 32), (36, 20), (7, 9)]:
        kw = {"align_corners": False} if resize == "bilinear" else {}
        ref = F.interpolate(torch.from_numpy(x).permute(0, 3, 1, 2), size=size, mode=resize, **kw)
        ours = resize_batch(x, size, resize).transpose(0, 3, 1, 2)
        assert np.abs(ref.numpy() - ours).max() < 1e-3


def test_train_without_augment_equals_eval():
    images = torch.randint(0, 256, (5, 28, 28, 1), dtype=torch.uint8)
    pre = default_preprocess("fashion-mnist", (32, 32))
    a = BatchTransform(pre, train=True, seed=0)(images)
    b = BatchTransform(pre, train=False, augment=suggested_augment("fashion-mnist"))(images)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


FULL = AugmentConfig(random_crop_padding=4, hflip=True, trivial_augment=True, random_erasing=0.5)


@pytest.mark.parametrize("aug", [FULL, AugmentConfig(random_crop_padding=3, padding_mode="reflect")])
def test_augment_shape_dtype_and_seed(aug):
    images = torch.randint(0, 256, (16, 32, 32, 3), dtype=torch.uint8)
    pre = default_preprocess("cifar10", (32, 32))
    a = BatchTransform(pre, train=True, augment=aug, seed=7)
    b = BatchTransform(pre, train=True, augment=aug, seed=7)
    c = BatchTransform(pre, train=True, augment=aug, seed=8)
    xa, xb, xc = a(images), b(images), c(images)
    assert xa.shape == (16, 3, 32, 32) and xa.dtype == torch.float32 and torch.isfinite(xa).all()
    torch.testing.assert_close(xa, xb, rtol=0, atol=0)
    assert not torch.equal(xa, xc)
    assert not torch.equal(a(images), xa)  # the stream advances between batches
    a.set_epoch(0)
    torch.testing.assert_close(a(images), xa, rtol=0, atol=0)  # ... and replays from (seed, epoch)
    a.set_epoch(1)
    assert not torch.equal(a(images), xa)


def test_grey_dataset_to_rgb_model_with_augment():
    images = torch.randint(0, 256, (8, 8, 8, 1), dtype=torch.uint8)
    t = BatchTransform(default_preprocess("digits", (24, 24)), train=True, augment=FULL, seed=0)
    out = t(images)
    assert out.shape == (8, 3, 24, 24)
    torch.testing.assert_close(out[:, 0], out[:, 1])  # still grey: channels stay equal after every op


def test_random_crop_shifts_content_within_padding():
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    g = torch.Generator().manual_seed(0)
    out = A.random_crop(x, 2, "zeros", g)
    pos = out.flatten(1).argmax(1)
    rows, cols = pos // 8, pos % 8
    assert out.sum(dim=(1, 2, 3)).eq(1).all()  # the dot is never cropped away at padding 2
    assert rows.min() == 2 and rows.max() == 6 and cols.min() == 2 and cols.max() == 6


def test_shift_and_hflip():
    x = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(2, 1, 1, 1)
    out = A.shift(x, torch.tensor([1, 0]), torch.tensor([0, -1]))
    torch.testing.assert_close(out[0, 0, 1:], x[0, 0, :3])  # down by one
    assert out[0, 0, 0].eq(0).all()
    torch.testing.assert_close(out[1, 0, :, :3], x[1, 0, :, 1:])  # left by one
    flips = A.hflip(torch.arange(4.0).reshape(1, 1, 1, 4).repeat(200, 1, 1, 1), torch.Generator().manual_seed(0))
    flipped = flips[:, 0, 0, 0].eq(3).float().mean().item()
    assert 0.35 < flipped < 0.65


def test_trivial_ops_stay_in_range_and_change_images():
    x = torch.rand(64, 3, 16, 16)
    out = A.trivial_augment(x, torch.Generator().manual_seed(0))
    assert out.min() >= 0 and out.max() <= 1
    changed = (out - x).abs().flatten(1).amax(1) > 1e-6
    assert 0.5 < changed.float().mean().item() < 1.0  # identity is one of six ops
    for op in A.TRIVIAL_OPS[1:]:
        assert not torch.equal(A._apply_op(op, x[:4], torch.full((4,), 0.9)), x[:4]), op


def test_random_erasing_probability_and_value():
    x = torch.ones(200, 3, 16, 16)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(A.random_erasing(x, 0.0, g), x)
    out = A.random_erasing(x, 1.0, g)
    erased = out.eq(0).flatten(1).float().mean(1)
    assert (erased > 0).all() and erased.max() <= 0.34
    torch.testing.assert_close(out[:, 0], out[:, 2])  # the same box on every channel


def test_suggested_augment():
    assert not suggested_augment("digits").hflip and not suggested_augment("fashion-mnist:/x").hflip
    c = suggested_augment("cifar10:/data", 32)
    assert c.hflip and c.random_crop_padding == 4 and c.trivial_augment
    assert suggested_augment("imagefolder:/x", (64, 48)).random_crop_padding == 6
    assert AugmentConfig.from_dict(c.to_dict()) == c
    assert not AugmentConfig().enabled


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu_including_augmentations():
    images = torch.randint(0, 256, (8, 28, 28, 1), dtype=torch.uint8)
    pre = default_preprocess("fashion-mnist", (32, 32))
    cpu = BatchTransform(pre, train=True, augment=FULL, seed=3)(images)
    gpu = BatchTransform(pre, train=True, augment=FULL, seed=3)(images.cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-5)
