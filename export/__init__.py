"""edgevit.export: static MoE routing, one converter module per target, validation, the artifact contract.

Lives in the top-level `export/` folder, mapped to `edgevit.export` by setuptools' package-dir.
Converters (onnx, coremltools, litert-torch, executorch) are imported lazily inside each target module.
"""
