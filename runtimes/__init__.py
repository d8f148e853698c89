"""edgevit.runtimes: the torch-free device side (numpy + one runtime), importable as `edgevit.runtimes`.

Lives in the top-level `runtimes/` folder, mapped by setuptools' package-dir (`"edgevit.runtimes" = "runtimes"`),
so editable and normal installs both work. Never import torch, `edgevit.models`, `edgevit.train`,
`edgevit.export` or `edgevit.data` from here (the torch side imports this package, never the reverse): a
Raspberry Pi installs `edgevit[pi]` only (tests run bench, predict and info with torch blocked).

Modules (each imports its runtime lazily; importing this package imports nothing heavy):

- `contract`  the artifact contract (`edgevit.json`) and `preprocess_images`, the one preprocessing routine
- `base`      the `Harness` interface, the runtime registry, `open_harness`, artifact resolution
- `onnx`, `tflite`, `coreml`, `executorch`   one harness per runtime (torch eager: `edgevit.torch_harness`)
- `files`     file safety for every stage: atomic writes, the one directory swap, `one_line` error text
- `job`       `BenchJob`, the one bench job description (CLI -> child process -> ssh device), `BenchConfig`
- `bench`     the protocol, statistics and the JSON result schema; `run_job` runs one `BenchJob`
- `evalset`   `EvalSet`, the one eval-set type; reads the shipped digits or an .npz (dataset specs:
              `edgevit.data.evalset`, on the workstation)
- `report`    terminal / markdown tables, the latency-vs-accuracy PNG, merging results from several machines
- `compare`   several artifacts x runtimes in one call; `isolate` one bench per child process
- `remote`    `--device ssh://...`; `adb` `--device adb[:SERIAL]` through LiteRT's benchmark_model
- `predict`, `describe`, `images`   the work of `edgevit predict` / `edgevit info` (their only command line is
              the typer one in `edgevit.commands.predict`, torch-free at import)
- `machine`   machine facts; `__main__` the device-side entry point `python -m edgevit.runtimes bench ...`
              (`predict` / `describe` there hand over to `edgevit predict` / `edgevit info`)
"""
