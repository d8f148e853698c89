"""edgevit.export: static MoE routing, one converter module per target, validation, the artifact contract.

Lives in the top-level `export/` folder, mapped to `edgevit.export` by setuptools' package-dir.
Converters (onnx, coremltools, litert-torch, executorch) are imported lazily inside each target module.

    from edgevit.export.routing import to_static            # module swap: the export form of a model
    from edgevit.export.onnx_form import to_onnx_form       # onnxruntime's own form of it (ONNX Attention, TopK)
    from edgevit.export.tflite_form import to_tflite_form   # LiteRT's own form (folded norms, fused SwiGLU)
    from edgevit.export.executorch_form import to_executorch_form  # ExecuTorch's (all of a block in XNNPACK)
    from edgevit.export.formats import FORMATS              # the targets table
    from edgevit.export.pipeline import ExportRequest, export_checkpoint
    results = export_checkpoint(ExportRequest("runs/x/best", "onnx,tflite", precision="fp32"))

`pipeline` runs each target as convert -> contract -> validate -> embed -> verify -> publish (timing and errors
in one place, `_attempt`); `calibration` gives the checkpoint's own dataset as `EvalSet`s; file safety
(atomic writes, the directory swap) comes from `edgevit.runtimes.files`.

Each target module (`onnx`, `coreml`, `tflite`, `executorch`) has `export(model, sample, path, *, precision,
quant, calibration, info, **options)`, `inspect(path) -> GraphInfo` and `embed_metadata(path, text)`.
"""
