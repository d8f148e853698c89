"""The one bench job description: the CLI builds it, the child and the ssh device read it back unchanged."""

from __future__ import annotations

import dataclasses

import pytest

from edgevit.runtimes.job import BenchConfig, BenchJob, parser


def _job() -> BenchJob:
    return BenchJob("out/a b/model.onnx", "onnx", threads=2, options={"provider": "CPUExecutionProvider", "n": 3},
                    protocol=BenchConfig(warmup=1, runs=7, time_budget_s=0.5, batch=2, large_batch=0,
                                         eval_limit=40),
                    data="eval.npz", reference_logits="ref.npy", reference_name="torch", device="ssh://pi@h")


def test_job_round_trips_through_json_and_argv() -> None:
    job = _job()
    assert BenchJob.from_json(job.to_json()) == job
    argv = job.to_argv()
    assert argv[0] == "bench"
    assert BenchJob.from_argv(argv[1:]) == job
    assert BenchJob.from_argv(["--job", job.to_json()]) == job


def test_every_field_is_a_flag() -> None:
    """Adding a knob is one field: the device-side parser grows the flag by itself."""
    dests = {a.dest for a in parser()._actions}
    names = {f.name for cls in (BenchJob, BenchConfig) for f in dataclasses.fields(cls)} - {"protocol"}
    assert names <= dests


@pytest.mark.parametrize("text, why", [
    ('{"artifact": "m.onnx", "runz": 3}', "unknown"),
    ('{"artifact": "m.onnx", "threads": "4"}', "wrong type"),
    ('{"artifact": "m.onnx", "protocol": {"runs": null}}', "wrong type"),
    ('{"runtime": "onnx"}', "needs an artifact"),
    ('{"artifact": "m.onnx", "threads": 0}', "--threads must be"),
    ('[1]', "JSON object"),
])
def test_bad_job_json_is_a_value_error(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        BenchJob.from_json(text)
