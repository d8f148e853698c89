"""Static checks of the Android/iOS app sources (no SDK needed): constants come from the contract, the bench
JSON the apps write has edgevit's schema, the bundle file names agree, and the Xcode project is well formed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from app_testlib import APPS

from edgevit.export.app_bundle import EVAL_BIN, EVAL_JSON, LABELS_FILENAME, MODEL_NAMES, SAMPLE_FILENAME
from edgevit.runtimes.contract import CONTRACT_FILENAME

ANDROID_SRC = APPS / "android" / "app" / "src" / "main" / "java"
IOS_SRC = APPS / "ios" / "EdgeVit"
KOTLIN = sorted(ANDROID_SRC.rglob("*.kt"))
SWIFT = sorted(IOS_SRC.rglob("*.swift"))

# Numbers that, in app code, can only be a hard-coded input size, ImageNet mean/std or a uint8 scale.
BANNED_NUMBERS = [
    "28", "32", "36", "64", "96", "112", "128", "192", "224", "256", "299", "384", "512",
    "255", "256.0", "255.0", "127.5", "0.00392", "0.003921",
    "0.485", "0.456", "0.406", "0.229", "0.224", "0.225", "0.5",
]
# 0.5 is allowed only in the half-pixel coordinate `(o + 0.5) * scale - 0.5` of the bilinear taps.
HALF_PIXEL = re.compile(r"\(\s*(?:Double\()?o\)?\s*\+\s*0\.5\s*\)\s*\*\s*scale\s*-\s*0\.5")


def bench_schema() -> dict[str, set[str] | None]:
    """The result object `edgevit bench` writes (`edgevit.runtimes.bench.new_result`): top-level keys, and the
    keys of the nested objects the apps fill."""
    from edgevit.runtimes.bench import LATENCY_KEYS, new_result

    r = new_result()
    schema: dict[str, set[str] | None] = dict.fromkeys(r)
    schema["runtime"] = set(r["runtime"])
    schema["machine"] = set(r["machine"])
    schema["latency_ms"] = set(LATENCY_KEYS)
    return schema


def _strip_comments(code: str) -> str:
    code = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), code, flags=re.S)
    return "\n".join(re.sub(r"//.*$", "", line) for line in code.splitlines())


def _strip_strings(code: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', code)


def _number_pattern(n: str) -> re.Pattern:
    # not part of an identifier (Float32, ARGB_8888) or of a longer number; optional Kotlin/Swift suffixes
    return re.compile(rf"(?<![\w.]){re.escape(n)}(?:[fFdDL]|\.0+[fF]?)?(?![\w.])" if "." not in n
                      else rf"(?<![\w.]){re.escape(n)}\d*[fFdD]?(?![\w.])")


def _banned_hits(line: str) -> list[str]:
    line = HALF_PIXEL.sub("", line)
    return [n for n in BANNED_NUMBERS if _number_pattern(n).search(line)]


def test_sources_exist():
    names = {p.name for p in KOTLIN}
    assert {"Preprocessor.kt", "MainActivity.kt", "BenchmarkActivity.kt", "Classifier.kt", "Contract.kt"} <= names
    names = {p.name for p in SWIFT}
    assert {"Preprocessor.swift", "Classifier.swift", "ClassifyView.swift", "BenchmarkView.swift", "Contract.swift"} <= names


@pytest.mark.parametrize("path", KOTLIN + SWIFT, ids=lambda p: p.name)
def test_no_hard_coded_preprocessing_constants(path: Path):
    code = _strip_strings(_strip_comments(path.read_text(encoding="utf-8")))
    hits = []
    for lineno, line in enumerate(code.splitlines(), 1):
        hits += [f"{path.name}:{lineno}: {n!r} in {line.strip()!r}" for n in _banned_hits(line)]
    assert not hits, "hard-coded sizes/means/scales in app code (read them from edgevit.json):\n" + "\n".join(hits)


def test_the_grep_catches_hard_coded_constants():
    bad = [
        "val size = 224", "let mean: [Float] = [0.485, 0.456, 0.406]", "x / 255f", "v * (1f / 255.0f)",
        "Bitmap.createScaledBitmap(b, 32, 32, true)", "let w = 36",
    ]
    ok = [
        "val x = Float32(1)", "ARGB_8888", "(p shr 16) and 0xFF", "val src = maxOf((o + 0.5) * scale - 0.5, 0.0)",
        "let src = max((Double(o) + 0.5) * scale - 0.5, 0)", "bitsPerComponent: 8", "Int32", "1048576.0",
    ]
    for line in bad:
        assert _banned_hits(line), line
    for line in ok:
        assert not _banned_hits(line), line
    assert _banned_hits("val mean = 0.5f")


def test_preprocessors_read_every_constant_from_the_contract():
    kotlin = (ANDROID_SRC / "dev/edgevit/sample/Contract.kt").read_text()
    for key in ("size", "channels", "mean", "std", "resize", "scale", "layout", "shape", "labels"):
        assert f'"{key}"' in kotlin, key
    swift = (IOS_SRC / "Core" / "Contract.swift").read_text()
    for key in ("size", "channels", "mean", "std", "resize", "scale", "layout", "shape", "labels"):
        assert re.search(rf"\blet {key}\b", swift), key
    # neither app uses the platform scalers, whose bilinear differs from the contract's
    assert "createScaledBitmap" not in _strip_comments(kotlin + "".join(p.read_text() for p in KOTLIN))
    for p in SWIFT:
        code = _strip_comments(p.read_text())
        assert "VNCoreMLRequest" not in code and "imageCropAndScaleOption" not in code, p.name


def test_apps_use_the_bundle_file_names():
    kotlin = (ANDROID_SRC / "dev/edgevit/sample/Contract.kt").read_text()
    for name in (MODEL_NAMES["android"], LABELS_FILENAME, CONTRACT_FILENAME, SAMPLE_FILENAME, EVAL_JSON, EVAL_BIN):
        assert f'"{name}"' in kotlin, name
    swift = (IOS_SRC / "Core" / "Contract.swift").read_text()
    assert f'"{Path(MODEL_NAMES["ios"]).stem}"' in swift
    for name in (LABELS_FILENAME, CONTRACT_FILENAME, SAMPLE_FILENAME, EVAL_JSON, EVAL_BIN):
        stem, ext = name.rsplit(".", 1)
        assert f'("{stem}", "{ext}")' in swift, name


@pytest.mark.parametrize("app", ["android", "ios"])
def test_sample_bench_json_has_the_bench_schema(app):
    from edgevit.runtimes.bench import SCHEMA
    from edgevit.runtimes.report import load_results, row

    path = APPS / app / "docs" / "bench-result.sample.json"
    record = json.loads(path.read_text())
    schema = bench_schema()
    assert set(record) == set(schema)
    for key, sub in schema.items():
        if sub is not None:
            assert set(record[key]) == sub, key
    assert record["schema"] == SCHEMA and record["status"] == "ok"
    lat = record["latency_ms"]
    assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert isinstance(lat["runs"], int) and record["batch"] == 1
    assert set(record["throughput_ips"]) == {"1"}
    assert record["source"] == f"{app}-app"
    # `edgevit bench report` reads it like any other result
    (loaded,) = load_results([path])
    assert row(loaded)[0] == record["model"]


@pytest.mark.parametrize("path", [
    ANDROID_SRC / "dev/edgevit/sample/BenchReport.kt", IOS_SRC / "BenchReport.swift"], ids=["kotlin", "swift"])
def test_app_bench_writers_emit_every_schema_key(path: Path):
    code = path.read_text()
    schema = bench_schema()
    keys = set(schema) | set().union(*(s for s in schema.values() if s))
    missing = sorted(k for k in keys if f'"{k}"' not in code)
    assert not missing, f"{path.name} does not write {missing}"


def test_gradle_project_uses_litert_from_google_maven():
    settings = (APPS / "android" / "settings.gradle.kts").read_text()
    app = (APPS / "android" / "app" / "build.gradle.kts").read_text()
    assert "google()" in settings and 'include(":app")' in settings
    assert re.search(r'"com\.google\.ai\.edge\.litert:litert:\d+\.\d+\.\d+"', app)
    assert 'noCompress += "tflite"' in app  # memory-mapped from the APK
    manifest = (APPS / "android" / "app" / "src" / "main" / "AndroidManifest.xml").read_text()
    assert ".MainActivity" in manifest and ".BenchmarkActivity" in manifest


# ------------------------------------------------------------------------------------- Xcode project


def _parse_pbxproj(text: str):
    """A small parser for Xcode's old-style (OpenStep) plist: dicts, arrays, strings."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = text.split("\n", 1)[1] if text.startswith("// !$*UTF8*$!") else text
    tokens = re.findall(r'"(?:\\.|[^"\\])*"|[{}();=,]|[^\s{}();=,"]+', text)
    pos = 0

    def value():
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "{":
            d = {}
            while tokens[pos] != "}":
                key = value()
                assert tokens[pos] == "=", f"expected = after {key!r}"
                pos += 1
                d[key] = value()
                assert tokens[pos] == ";", f"expected ; after {key!r}"
                pos += 1
            pos += 1
            return d
        if tok == "(":
            items = []
            while tokens[pos] != ")":
                items.append(value())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return items
        assert tok not in "})=;,", f"unexpected {tok!r}"
        return tok[1:-1] if tok.startswith('"') else tok

    root = value()
    assert pos == len(tokens), "trailing tokens"
    return root


def test_xcode_project_is_well_formed():
    pbx = _parse_pbxproj((APPS / "ios" / "EdgeVit.xcodeproj" / "project.pbxproj").read_text())
    objects = pbx["objects"]
    assert pbx["rootObject"] in objects
    ids = set(objects)
    for oid, obj in objects.items():
        assert re.fullmatch(r"[0-9A-F]{24}", oid), oid
        assert "isa" in obj, oid

    def refs(v):
        if isinstance(v, dict):
            for x in v.values():
                yield from refs(x)
        elif isinstance(v, list):
            for x in v:
                yield from refs(x)
        elif isinstance(v, str) and re.fullmatch(r"[0-9A-F]{24}", v):
            yield v

    dangling = {r for obj in objects.values() for r in refs(obj)} - ids
    assert not dangling
    project = objects[pbx["rootObject"]]
    (target_id,) = project["targets"]
    target = objects[target_id]
    assert target["productType"] == "com.apple.product-type.application"
    (group_id,) = target["fileSystemSynchronizedGroups"]
    group = objects[group_id]
    assert group["isa"] == "PBXFileSystemSynchronizedRootGroup"
    assert (APPS / "ios" / group["path"]).is_dir()  # the synced folder holds the sources and Resources/
    for cfg_id in objects[target["buildConfigurationList"]]["buildConfigurations"]:
        settings = objects[cfg_id]["buildSettings"]
        assert settings["GENERATE_INFOPLIST_FILE"] == "YES"
        assert settings["PRODUCT_BUNDLE_IDENTIFIER"] == "dev.edgevit.sample"
    for cfg_id in objects[project["buildConfigurationList"]]["buildConfigurations"]:
        assert float(objects[cfg_id]["buildSettings"]["IPHONEOS_DEPLOYMENT_TARGET"]) >= 16.0


def test_default_bundle_dirs_are_inside_the_apps():
    from edgevit.export.app_bundle import default_bundle_dir

    assert default_bundle_dir("android") == APPS / "android" / "app" / "src" / "main" / "assets"
    assert default_bundle_dir("ios") == APPS / "ios" / "EdgeVit" / "Resources"
    pbx = (APPS / "ios" / "EdgeVit.xcodeproj" / "project.pbxproj").read_text()
    assert "path = EdgeVit;" in pbx
