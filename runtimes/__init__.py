"""edgevit.runtimes: the torch-free device side (numpy + one runtime), importable as `edgevit.runtimes`.

Lives in the top-level `runtimes/` folder, mapped by setuptools' package-dir. Never import torch,
`edgevit.models`, `edgevit.train` or `edgevit.export` from here: a Raspberry Pi installs `edgevit[pi]` only.
"""
