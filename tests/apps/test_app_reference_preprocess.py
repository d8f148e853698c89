"""The Python mirror of the apps' preprocessing (apps/reference_preprocess.py) against the runtime path
(`edgevit.runtimes.contract.preprocess_images`), and the golden file the Android unit test reads."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from app_testlib import APPS, PRE

from edgevit.runtimes.contract import Preprocess, preprocess_images

GOLDEN = APPS / "android" / "app" / "src" / "test" / "resources" / "preprocess_golden.json"

CONFIGS = [
    # (size, channels, resize, layout, mean, std)
    ((18, 14), 3, "bilinear", "NCHW", (0.1, 0.2, 0.3), (0.3, 0.4, 0.5)),
    ((36, 36), 3, "bilinear", "NHWC", (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ((13, 21), 1, "bilinear", "NHWC", (0.4,), (0.3,)),
    ((5, 7), 3, "nearest", "NCHW", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ((8, 8), 1, "nearest", "NCHW", (0.0,), (1.0,)),
    ((3, 4), 3, "bilinear", "NCHW", (0.2, 0.2, 0.2), (0.7, 0.7, 0.7)),
]


def _spec(ref, pre: Preprocess, layout: str):
    return ref.AppSpec({"preprocess": pre.to_dict(), "input": {"layout": layout}})


def _images(digits_images: np.ndarray, n_digits: int = 12, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    images = [digits_images[i] for i in range(n_digits)]
    for _ in range(6):  # RGB photos of odd sizes, down- and up-scaled
        h, w = (int(v) for v in rng.integers(2, 48, size=2))
        images.append(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    rgba = rng.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    images.append(rgba)
    images.append(np.full((6, 5), 200, np.uint8))  # flat grey
    return images


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c[0][0]}x{c[0][1]}-{c[1]}ch-{c[2]}-{c[3]}")
@pytest.mark.parametrize("app", ["android", "ios"])
def test_mirror_equals_runtime_preprocessing_bit_for_bit(ref, digits, cfg, app):
    size, channels, resize, layout, mean, std = cfg
    pre = Preprocess(size=size, channels=channels, mean=mean, std=std, resize=resize)
    spec = _spec(ref, pre, layout)
    for image in _images(digits[0]):
        want = preprocess_images(image[None], pre, layout)
        got = ref.app_preprocess(image, spec, app)
        assert got.shape == want.shape
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)


def test_grey_detection_matches_a_grey_array(ref, digits):
    """An RGB image with equal channels (how Android decodes a grey PNG) is treated as one grey plane."""
    image = digits[0][3]
    argb, w, h = ref.argb_from_image(np.repeat(image[..., None], 3, axis=-1))
    planes = ref.pixels_from_argb(argb, w, h)
    assert len(planes) == 1
    np.testing.assert_array_equal(planes[0], image.astype(np.float32))


def test_sample_png_round_trip(ref, digits, tmp_path):
    """sample.png as the bundle writes it decodes to the exact pixels, so the app sees what Python saw."""
    from PIL import Image

    from edgevit.export.app_bundle import _write_sample

    path = tmp_path / "sample.png"
    _write_sample(path, None)
    with Image.open(path) as im:
        assert im.mode == "RGB" and "icc_profile" not in im.info and "gamma" not in im.info
        decoded = np.asarray(im)
    image = digits[0][0]
    np.testing.assert_array_equal(decoded, np.repeat(image[..., None], 3, axis=-1))
    spec = _spec(ref, PRE, "NCHW")
    np.testing.assert_array_equal(ref.app_preprocess(decoded, spec), preprocess_images(image[None], PRE, "NCHW"))


def test_spec_rejects_unknown_rules(ref):
    pre = PRE.to_dict()
    with pytest.raises(ValueError, match="layout"):
        ref.AppSpec({"preprocess": pre, "input": {"layout": "CHW"}})
    with pytest.raises(ValueError, match="resize"):
        ref.AppSpec({"preprocess": {**pre, "resize": "bicubic"}, "input": {"layout": "NCHW"}})


# ------------------------------------------------------------------------------ the labels.txt rule

# The rule, written out: lines end at "\n", "\r\n" or "\r" only; trailing empty lines are dropped; nothing else
# is touched. The golden file carries these cases to Contract.kt and Contract.swift's parseLabels.
LABEL_CASES = [
    ("cat\ndog\r\na b\n", ["cat", "dog", "a b"]),
    ("cat\rdog\r", ["cat", "dog"]),
    ("one\r\ntwo\r\n\r\n\n", ["one", "two"]),
    ("a\n\nb", ["a", "", "b"]),
    ("last line unterminated", ["last line unterminated"]),
    ("  padded \t\nx\n", ["  padded \t", "x"]),
    ("\n\r", []),
    ("", []),
    ("ok\n\r\nnext", ["ok", "", "next"]),
    ("t-shirt/top\u2028x\x0cy\x85z\n", ["t-shirt/top\u2028x\x0cy\x85z"]),
    ("caf\u00e9\n\u732b\n", ["caf\u00e9", "\u732b"]),
]


@pytest.mark.parametrize(("text", "want"), LABEL_CASES)
def test_python_label_rule(text, want):
    from edgevit.export.app_bundle import parse_labels

    assert parse_labels(text) == want


# ------------------------------------------------------------------------------ golden file for Kotlin and Swift


def build_golden(ref, digits_images: np.ndarray) -> dict:
    """Cases for the apps' unit tests (Android's PreprocessorTest.kt, iOS's EdgeVitCoreTests): contract + ARGB
    pixels -> the mirror's floats, latency samples -> numpy's statistics, labels.txt text -> labels."""
    rng = np.random.default_rng(7)
    cases = []
    picks = [
        ("digit-nchw-bilinear", CONFIGS[0], digits_images[0]),
        ("rgb-nhwc-bilinear-down", CONFIGS[2], rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)),
        ("rgb-nchw-nearest", CONFIGS[3], rng.integers(0, 256, (9, 6, 3), dtype=np.uint8)),
        ("grey-nhwc-imagenet", CONFIGS[1], digits_images[1]),
        ("rgb-to-grey-nchw", CONFIGS[4], rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)),
    ]
    for name, (size, channels, resize, layout, mean, std), image in picks:
        pre = Preprocess(size=size, channels=channels, mean=mean, std=std, resize=resize)
        h, w = size
        contract = {
            "format_version": 1,
            "model": {"name": "golden"},
            "labels": ["a", "b"],
            "input": {"name": "input", "layout": layout,
                      "shape": [1, channels, h, w] if layout == "NCHW" else [1, h, w, channels]},
            "output": {"name": "logits", "shape": [1, 2]},
            "preprocess": pre.to_dict(),
        }
        argb, width, height = ref.argb_from_image(image)
        expected = ref.preprocess_pixels(ref.pixels_from_argb(argb, width, height), _spec(ref, pre, layout))
        cases.append({
            "name": name, "contract": contract, "width": width, "height": height,
            "argb": [int(v) for v in argb], "expected": [float(v) for v in expected],
        })
    stats = []
    for n in (1, 7, 50, 200):
        samples = np.round(rng.gamma(4.0, 0.3, size=n) + 1.0, 6)
        s = np.sort(samples)
        cut = int(np.floor(n * 0.1))
        kept = s[cut : n - cut] if n - 2 * cut > 0 else s
        stats.append({"samples": [float(v) for v in samples], "expected": {
            "p50": float(np.percentile(s, 50)), "p90": float(np.percentile(s, 90)),
            "p99": float(np.percentile(s, 99)), "mean": float(s.mean()), "trimmed_mean": float(kept.mean()),
            "std": float(s.std(ddof=1)) if n > 1 else 0.0, "min": float(s[0]), "max": float(s[-1]), "runs": n}})
    labels = [{"text": text, "expected": want} for text, want in LABEL_CASES]
    return {"generated_by": "tests/apps/test_app_reference_preprocess.py (EDGEVIT_UPDATE_GOLDEN=1 rewrites)",
            "cases": cases, "stats": stats, "labels": labels}


def test_android_golden_file_is_current(ref, digits):
    golden = build_golden(ref, digits[0])
    if os.environ.get("EDGEVIT_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(golden, separators=(",", ":")) + "\n", encoding="utf-8")
    assert GOLDEN.is_file(), "run with EDGEVIT_UPDATE_GOLDEN=1 to write the golden file"
    on_disk = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(golden)), "golden file is stale: rerun with EDGEVIT_UPDATE_GOLDEN=1"
    # the apps' latency statistics are the desktop harness's (which rounds to 4 decimals)
    from edgevit.runtimes.bench import latency_stats

    for case in on_disk["stats"]:
        want = latency_stats(case["samples"])
        for k, v in case["expected"].items():
            assert v == pytest.approx(want[k], abs=1e-4), k
    # and the golden floats are the runtime path's floats
    for case in on_disk["cases"]:
        c = case["contract"]
        pre = Preprocess.from_dict(c["preprocess"])
        argb = np.asarray(case["argb"], np.int64) & 0xFFFFFFFF
        rgb = np.stack([(argb >> s) & 0xFF for s in (16, 8, 0)], -1).astype(np.uint8)
        image = rgb.reshape(case["height"], case["width"], 3)
        want = preprocess_images(image[None], pre, c["input"]["layout"]).reshape(-1)
        np.testing.assert_array_equal(np.asarray(case["expected"], np.float32), want)
