"""Session fixtures for the sample-app tests; the helpers live in app_testlib.py."""

from __future__ import annotations

import pytest
from app_testlib import export_coreml, export_tflite, load_digits, load_reference_preprocess, train_tiny_model


@pytest.fixture(scope="session")
def ref():
    return load_reference_preprocess()


@pytest.fixture(scope="session")
def digits():
    return load_digits()


@pytest.fixture(scope="session")
def trained_model(digits):
    return train_tiny_model(*digits)


@pytest.fixture(scope="session")
def tflite_nchw(trained_model, tmp_path_factory):
    return export_tflite(trained_model, "NCHW", tmp_path_factory.mktemp("tflite_nchw"))


@pytest.fixture(scope="session")
def tflite_nhwc(trained_model, tmp_path_factory):
    return export_tflite(trained_model, "NHWC", tmp_path_factory.mktemp("tflite_nhwc"))


@pytest.fixture(scope="session")
def coreml_plain(trained_model, tmp_path_factory):
    return export_coreml(trained_model, tmp_path_factory.mktemp("coreml_plain"), classifier=False)


@pytest.fixture(scope="session")
def coreml_classifier(trained_model, tmp_path_factory):
    return export_coreml(trained_model, tmp_path_factory.mktemp("coreml_cls"), classifier=True)
