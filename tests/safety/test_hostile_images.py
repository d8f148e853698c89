"""Issue 12, class 4: the work per image is bounded. Sizes are checked from the header before decoding (a tiny
file claiming 80,000,000 x 1 pixels is refused, per file), and the resize gathers the pixels it reads before
converting to float, so a large image never becomes a huge float intermediate. Built here; no model needed."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from edgevit.runtimes.contract import Preprocess, preprocess_images
from edgevit.runtimes.images import MAX_ASPECT, MAX_IMAGE_PIXELS, ImageError, read_image
from edgevit.runtimes.predict import list_inputs


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that declares width x height (grey) with a tiny, highly compressed body: a decompression trap."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\0" * min(height * (width + 1), 1 << 20), 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("w, h, words", [
    (80_000_000, 1, "pixels"),            # under Pillow's own bomb limit, 4 GB once resized as float
    (MAX_IMAGE_PIXELS // 1000 + 1, 1000, "pixels"),
    (MAX_ASPECT * 10 + 10, 10, "longer than wide"),
    (10, MAX_ASPECT * 10 + 10, "longer than wide"),
])
def test_huge_or_thin_images_are_refused_from_the_header(tmp_path: Path, w: int, h: int, words: str) -> None:
    f = _png_header_only(tmp_path / "trap.png", w, h)
    assert f.stat().st_size < 200_000
    with pytest.raises(ImageError, match=words):
        read_image(f)


def test_a_fifo_named_like_an_image_is_not_opened(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match="regular file"):
        read_image(fifo)


def test_resize_of_a_wide_image_gathers_before_converting() -> None:
    """A 1 x 2,000,000 image resized to 16 x 16: the float work is on the <= 32 columns the resize reads."""
    img = (np.arange(2_000_000, dtype=np.int64) % 251).astype(np.uint8).reshape(1, 1, -1, 1)
    pre = Preprocess(size=(16, 16), channels=1, mean=(0.0,), std=(1.0,), scale=1.0)
    import tracemalloc

    tracemalloc.start()
    out = preprocess_images(img, pre, "NHWC")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.shape == (1, 16, 16, 1) and np.isfinite(out).all()
    assert peak < img.nbytes  # converting the whole row to float32 first would take 4x its bytes
    # the same numbers as a plain float resize of the whole image (the torch-pinned formula)
    src = (np.arange(16) + 0.5) * (2_000_000 / 16) - 0.5
    x0 = np.floor(src).astype(np.int64)
    w1 = (src - x0).astype(np.float32)
    row = img[0, 0, :, 0].astype(np.float32)
    expect = row[x0] * (1 - w1) + row[np.minimum(x0 + 1, row.size - 1)] * w1
    np.testing.assert_array_equal(out[0, 0, :, 0], expect)


def test_a_folder_lists_only_image_files(tmp_path: Path) -> None:
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.PNG").write_bytes(b"x")
    (d / "labels.txt").write_text("x")
    (d / "notes").write_text("x")
    files, errors = list_inputs([d, tmp_path / "in" / "labels.txt"])
    assert [f.name for f in files] == ["a.PNG", "labels.txt"] and not errors  # named directly: kept
    (d / "a.PNG").unlink()
    files, errors = list_inputs([d])
    assert not files and "no image files" in errors[0].error
