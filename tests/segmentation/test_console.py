"""Every command line ends as a Unix tool does when its reader has gone (``... | head``).

Each command runs as a real process whose standard output is a pipe nobody reads any more: the
read end is closed before the command writes, as ``head`` closes it after its lines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_CSV, write_sample_csv

BIN = Path(sys.executable).parent


def into_closed_pipe(command: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            command,
            cwd=folder,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
        )
    finally:
        os.close(write_end)
    return done


def assert_ended_quietly(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert "BrokenPipeError" not in done.stderr, done.stderr
    assert done.stderr == "", done.stderr
    # Killed by SIGPIPE, as `yes | head -1` leaves `yes`: a shell reports 141.
    assert done.returncode == -signal.SIGPIPE


@pytest.mark.parametrize(
    "command",
    [
        ["segment-names", "template"],
        ["segment-score", "--input", "customers.csv", "--output", "scored.csv", "--quiet"],
        ["segment-sample-data", "--rows", "20", "--output", "more.csv"],
    ],
    ids=["names-template", "score", "sample-data"],
)
def test_a_command_writing_into_a_closed_pipe_ends_quietly(
    command: list[str], trained_models: Path, tmp_path: Path
) -> None:
    write_sample_csv(tmp_path / "customers.csv", rows=50)
    done = into_closed_pipe(
        [str(BIN / command[0]), "--models-dir", str(trained_models), *command[1:]]
        if command[0] != "segment-sample-data"
        else [str(BIN / command[0]), *command[1:]],
        tmp_path,
    )
    assert_ended_quietly(done)


def test_training_into_a_closed_pipe_ends_quietly_and_keeps_its_bundle(tmp_path: Path) -> None:
    done = into_closed_pipe(
        [
            str(BIN / "segment-train"),
            "--data",
            str(SAMPLE_CSV),
            "--models-dir",
            str(tmp_path / "models"),
            "--k",
            "5",
            "--stability-samples",
            "0",
            "--quiet",
        ],
        tmp_path,
    )
    assert_ended_quietly(done)
    assert (tmp_path / "models" / "CURRENT").is_file()
