"""imagefolder: real PNG/JPEG files in class folders; corrupt files and bad layouts are clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edgevit.data import load_dataset
from edgevit.data.imagefolder import MAX_STORAGE_SIDE
from edgevit.errors import DataError


def _img(path, size=(12, 10), mode="RGB", value=0, fmt=None):
    """A flat-coloured image of (w, h) `size` whose colour encodes `value`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = value if mode == "L" else (value, 255 - value, 7)
    Image.new(mode, size, colour).save(path, format=fmt)


def _flat(root, classes=("cat", "dog", "emu"), per_class=5, mode="RGB"):
    for ci, c in enumerate(classes):
        for i in range(per_class):
            _img(root / c / f"{i}.png", mode=mode, value=40 * ci + i)


def test_split_layout_png_and_jpeg(tmp_path):
    for split, n in (("train", 4), ("test", 2)):
        for ci, c in enumerate(("b_class", "a_class")):
            for i in range(n):
                ext, fmt = (".jpg", "JPEG") if i % 2 else (".png", "PNG")
                _img(tmp_path / split / c / f"{i}{ext}", value=100 * ci, fmt=fmt)
    (tmp_path / "train" / "a_class" / "notes.txt").write_text("not an image")
    s = load_dataset(f"imagefolder:{tmp_path}", val_fraction=0.0)
    assert s.name == "imagefolder" and s.labels == ["a_class", "b_class"]  # sorted folder names
    assert (len(s.train), len(s.test), s.channels, s.image_size) == (8, 4, 3, (10, 12))
    np.testing.assert_array_equal(np.bincount(s.test.targets), [2, 2])
    # pixel content survives (JPEG is lossy on colour, so allow a small error): b_class is value 0
    b_imgs = s.train.images[s.train.targets == 1].astype(int)
    assert np.abs(b_imgs[..., 0] - 0).max() <= 3 and np.abs(b_imgs[..., 1] - 255).max() <= 3


def test_flat_layout_has_fixed_test_split(tmp_path):
    _flat(tmp_path)
    a = load_dataset(f"imagefolder:{tmp_path}", val_fraction=0.0, seed=0)
    b = load_dataset(f"imagefolder:{tmp_path}", val_fraction=0.0, seed=5)
    assert (len(a.train), len(a.test)) == (12, 3)  # 20% of 5 per class
    np.testing.assert_array_equal(a.test.images, b.test.images)  # test split never depends on the seed
    train_px = {im.tobytes() for im in a.train.images}
    assert not any(im.tobytes() in train_px for im in a.test.images)


def test_all_grey_is_stored_with_one_channel(tmp_path):
    _flat(tmp_path, mode="L")
    s = load_dataset(f"imagefolder:{tmp_path}")
    assert s.channels == 1 and s.train.images.shape[-1] == 1


def test_mixed_sizes_use_median_capped_storage(tmp_path):
    for i, size in enumerate([(10, 10), (20, 30), (20, 30), (200, 100)]):
        _img(tmp_path / "x" / f"{i}.png", size=size)
        _img(tmp_path / "y" / f"{i}.png", size=size)
    s = load_dataset(f"imagefolder:{tmp_path}", val_fraction=0.0)
    assert s.image_size == (30, 20)  # median h=30, w=20
    for i in range(10):  # now the median is 150x300 (h x w): scaled to a longest side of 64
        _img(tmp_path / "y" / f"big{i}.png", size=(300, 150))
    assert load_dataset(f"imagefolder:{tmp_path}").image_size == (MAX_STORAGE_SIDE // 2, MAX_STORAGE_SIDE)


def test_corrupt_image_is_an_error_naming_it(tmp_path):
    _flat(tmp_path)
    (tmp_path / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(DataError, match=r"cannot decode image .*dog/broken\.jpg"):
        load_dataset(f"imagefolder:{tmp_path}")


def test_truncated_png_is_an_error(tmp_path):
    _flat(tmp_path)
    _img(tmp_path / "cat" / "big.png", size=(64, 64))
    p = tmp_path / "cat" / "big.png"
    p.write_bytes(p.read_bytes()[:60])
    with pytest.raises(DataError, match="big.png"):
        load_dataset(f"imagefolder:{tmp_path}")


def test_empty_class_folder(tmp_path):
    _flat(tmp_path)
    (tmp_path / "zebra").mkdir()
    with pytest.raises(DataError, match="zebra holds no images"):
        load_dataset(f"imagefolder:{tmp_path}")


def test_bad_layouts(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_dataset(f"imagefolder:{tmp_path / 'missing'}")
    with pytest.raises(DataError, match="no class folders"):
        load_dataset(f"imagefolder:{tmp_path}")
    _flat(tmp_path / "train", classes=("a", "b"))
    _flat(tmp_path / "test", classes=("a", "c"), per_class=1)
    with pytest.raises(DataError, match=r"test classes \['c'\] have no train folder"):
        load_dataset(f"imagefolder:{tmp_path}")
