"""Renaming segments from the service (``PUT /admin/names``): a new bundle version, written by
``segment-names apply`` itself, then promoted with the zero-downtime reload.

The names are validated here first, against the served model, by the same rules the command
applies (``segmentation.names``), so a blank or duplicate name is a 422 naming its field and
nothing is written. The bundle is then written by running the command in a child process: the
very code a person runs, which copies the model file, renders the report with the new names and
writes everything into a staging folder renamed into place only when complete. Its libraries
(scikit-learn, matplotlib) stay out of the serving workers, which never import training code.

Two renames never interleave: one at a time per worker (an asyncio lock) and across the
workers of a server (a file lock in SEGMENT_STATE_DIR), and the version a rename was made on
must still be the one CURRENT names when its turn comes, else 409.
"""

from __future__ import annotations

import asyncio
import fcntl
import importlib.util
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread

from segmentation.metadata import BundleError, SegmentProfile, current_version
from segmentation.names import NamesError, NamesFile, apply_names
from service.defaults import ENV_PREFIX
from service.http.errors import (
    FieldProblem,
    InvalidRequest,
    RenameUnavailable,
    VersionConflict,
)
from service.model.registry import ModelRegistry, without_server_paths
from service.model.reload import Reloader
from service.settings import Settings

# segment-names, run by the interpreter serving (the console script may not be on PATH).
_NAMES_COMMAND = "import sys; from training.cli import names_main; sys.exit(names_main())"
# What the command imports beyond the service's own libraries: the [train] extra.
_TRAINING_MODULES = ("training", "sklearn", "matplotlib", "yaml")
LOCK_FILE = "rename.lock"
COMMAND_SECONDS = 300

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Renamed:
    version: str
    previous_version: str
    changed: bool
    other_workers_signalled: bool
    segments: tuple[SegmentProfile, ...]


class Renamer:
    def __init__(self, registry: ModelRegistry, reloader: Reloader, settings: Settings) -> None:
        self.registry = registry
        self.reloader = reloader
        self.settings = settings
        self._lock = asyncio.Lock()

    def unavailable(self) -> str | None:
        """Why this server cannot write a renamed version whoever asks, or None."""
        pinned = self.settings.model_version
        if pinned is not None:
            return (
                f"the service serves the version {ENV_PREFIX}MODEL_VERSION pins ({pinned}), so "
                "a renamed version would not be served: rename with segment-names and pin it"
            )
        missing = [m for m in _TRAINING_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            return (
                "this server cannot write model versions: segment-names (the [train] extra) "
                "is not installed here; rename with segment-names where it is"
            )
        if not os.access(self.settings.models_dir, os.W_OK):
            return "the service may not write to its models folder; rename with segment-names"
        return None

    async def rename(self, names: NamesFile, edited_on: str | None) -> Renamed:
        model = self.registry.require()
        if edited_on is not None and edited_on != model.version:
            raise _stale(edited_on, model.version)
        try:
            profiles = apply_names(list(model.metadata.segments), names, "segments")
        except NamesError as exc:
            message = str(exc).removeprefix("segments: ")
            raise InvalidRequest.from_problems(
                [FieldProblem(field=exc.field or "segments", message=message)]
            ) from None
        if profiles == list(model.metadata.segments):
            return Renamed(model.version, model.version, False, False, model.profiles)
        reason = self.unavailable()
        if reason is not None:
            raise RenameUnavailable(reason)
        async with self._lock:
            async with _server_lock(self.settings.state_folder()):
                await self._write(names, model.version)
            outcome = await self.reloader.reload("api")
        if not outcome.ok or outcome.version is None:
            raise RenameUnavailable(
                f"the renamed version was written and made current but could not be loaded: "
                f"{outcome.reason}"
            )
        served = self.registry.require()
        return Renamed(
            served.version,
            model.version,
            True,
            self.reloader.ask_other_workers(),
            served.profiles,
        )

    async def _write(self, names: NamesFile, source: str) -> None:
        models_dir = self.settings.models_dir
        try:
            current = await anyio.to_thread.run_sync(current_version, models_dir)
        except BundleError as exc:
            raise RenameUnavailable(without_server_paths(str(exc), models_dir)) from None
        if current != source:  # another rename (or a promotion) got there first
            raise _stale(source, current)
        with _names_file(names) as path:
            command = [
                sys.executable,
                "-c",
                _NAMES_COMMAND,
                "--models-dir",
                str(models_dir),
                "--version",
                source,
                "apply",
                str(path),
            ]
            with anyio.fail_after(COMMAND_SECONDS):
                done = await anyio.run_process(command, check=False)
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip()
            logger.error("segment-names apply failed (exit %s): %s", done.returncode, said)
            detail = said.removeprefix("segment-names: error: ").splitlines()
            raise RenameUnavailable(
                "the renamed version could not be written, nothing was changed: "
                + without_server_paths(detail[-1] if detail else "see the server log", models_dir)
            )
        logger.info("segments renamed: %s", done.stdout.decode(errors="replace").strip())


def _stale(edited_on: str, served: str) -> VersionConflict:
    return VersionConflict(
        f"the names were edited on version {edited_on}, but {served} is served now (renamed or "
        "reloaded meanwhile): load its segments and edit again"
    )


@contextmanager
def _names_file(names: NamesFile) -> Iterator[Path]:
    handle, name = tempfile.mkstemp(prefix="segment-names-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(names.model_dump_json(include={"segments"}, exclude_none=True))
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


@asynccontextmanager
async def _server_lock(folder: Path) -> AsyncIterator[None]:
    """One rename at a time across the workers of a server (they share the state folder)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / LOCK_FILE).open("a")
    except OSError as exc:
        raise RenameUnavailable(
            f"the state folder cannot be written ({type(exc).__name__}), and renames take "
            f"turns through a lock file in it: see {ENV_PREFIX}STATE_DIR"
        ) from None
    with handle:
        # Waited for in a thread: another worker may hold it for the seconds a rename takes.
        await anyio.to_thread.run_sync(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
