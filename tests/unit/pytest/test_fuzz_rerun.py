"""The command line a `pytest --fuzz` rerun hint starts with (harness.pytest.options.rerun_command)."""

from __future__ import annotations

from harness.pytest.options import rerun_command

FUZZ_FLAGS = ["--fuzz-seed", "--fuzz-service", "--fuzz-max-examples", "--fuzz-baseline"]


def test_the_rerun_hint_leaves_out_the_options_that_write_files() -> None:
    args = ["-p", "no:cacheprovider", "--topology", "topology.yaml", "--fuzz", "--junitxml", "runs/p1/junit.xml",
            "--junit-xml=runs/p1/j2.xml", "--topology-report", "runs/p1/page.html", "--fuzz-baseline", "b.json",
            "--fuzz-baseline-update", "--fuzz-seed=42", "--fuzz-service", "inventory", "--fuzz-baseline-prune",
            "-k", "orders"]
    # the fuzzing options are left out too: the hint adds them as the run used them (the baseline file included)
    assert rerun_command(args, FUZZ_FLAGS) == ["pytest", "-p", "no:cacheprovider", "--topology", "topology.yaml",
                                               "--fuzz", "-k", "orders"]
