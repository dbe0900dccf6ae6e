"""The model versions a service process serves: the current one, pinned ones and the one a
reload replaced, or the reason there is none. Routes read it per request.

With several workers, the version the service serves is also recorded where every worker of this
run can read it (``ServedRecord``): a worker uvicorn starts in place of one that died loads the
bundle CURRENT names, and when that bundle was refused, it serves what its siblings serve rather
than nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import anyio.to_thread

from segmentation.fresh_paths import fresh_file
from segmentation.metadata import BundleError, current_version
from segmentation.served_bundle import verified_bundle
from service.defaults import ENV_PREFIX
from service.http.errors import FieldProblem, ModelUnavailable, NotFound
from service.model.segment_model import SegmentModel

logger = logging.getLogger(__name__)
# Segment names of versions no longer served are kept for the segment history's last counts of
# them; a bound, as a service reloaded for years would otherwise keep every version's.
_REMEMBERED_NAMES = 64
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(?:[^\s/'\"():]+/)*([^\s/'\"():]+)")


class ExtraVersionUnavailable(Exception):
    """A version named in SEGMENT_EXTRA_VERSIONS cannot be loaded; the service does not start."""


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: ``version`` is the model serving afterwards (None if there is none).

    ``skipped``: nothing was loaded, as the version named was already served (``unless_serving``).
    """

    ok: bool
    version: str | None
    previous_version: str | None
    reason: str | None = None
    skipped: bool = False


@dataclass(frozen=True)
class Refusal:
    """A bundle the service was asked to serve and refused, while it kept serving another."""

    version: str | None  # None when CURRENT itself could not be read
    named: str  # who named it, for messages: "CURRENT names 'v2'"
    reason: str

    def describe(self, serving: str) -> str:
        return f"{self.named}, refused: {self.reason}; serving {serving!r}"


@dataclass(frozen=True)
class Served:
    """What the service serves: the version last loaded or reloaded, and the bundle refused
    since then, if any."""

    version: str
    refused: Refusal | None = None


class ServedRecord:
    """What the service serves, for every worker of this run to read.

    With several workers it is a file in the folder the supervisor shares with them and empties
    at each start (the multiprocess metrics folder), replaced whole on every change so a reader
    never sees half of one; with one process, memory is enough.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._memory: Served | None = None

    def read(self) -> Served | None:
        """The record, or None before any worker of this run served a version."""
        if self.path is None:
            return self._memory
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            refused = raw["refused"]
            return Served(raw["version"], Refusal(**refused) if refused else None)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("cannot read the served-version record %s: %s", self.path, exc)
            return None

    def write(self, served: Served) -> None:
        if self.path is None:
            self._memory = served
            return
        refused = served.refused
        text = json.dumps({"version": served.version, "refused": refused and asdict(refused)})
        temporary: Path | None = None
        try:
            handle, temporary = fresh_file(self.path.parent, ".served-")
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, self.path)
        except OSError as exc:
            # Serving goes on: only a worker replacing one that dies would miss the record.
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            logger.warning("cannot write the served-version record %s: %s", self.path, exc)


def _load_model(models_dir: Path, version: str | None) -> SegmentModel:
    """The bundle's numbers from its metadata; only a format 1 bundle, which has none, makes a
    serving process load scikit-learn and unpickle its pipeline."""
    return SegmentModel.from_bundle(verified_bundle(models_dir, version))


@dataclass
class ModelRegistry:
    """Holds the model being served, or the reason there is none; routes read it per request.

    A handler takes the model once, at the start of its request, so a reload swapping in a new
    model (one reference assignment) never changes the model under a request in flight.
    """

    model: SegmentModel | None = None
    reason: str = "the model has not been loaded yet"
    pinned: dict[str, SegmentModel] = field(default_factory=dict)
    previous: SegmentModel | None = None
    record: ServedRecord = field(default_factory=ServedRecord)
    _reload_lock: asyncio.Lock | None = field(default=None, repr=False)
    _names: dict[str, Mapping[int, str]] = field(default_factory=dict, repr=False)

    def names_of(self, version: str) -> Mapping[int, str]:
        """Segment names by id of a version served now or earlier by this process ({} if it
        never was, or too many versions ago)."""
        for model in self.served():
            if model.version == version:
                return model.names_by_id
        return self._names.get(version, {})

    def _remember(self, model: SegmentModel) -> SegmentModel:
        self._names.pop(model.version, None)
        self._names[model.version] = model.names_by_id
        while len(self._names) > _REMEMBERED_NAMES:
            del self._names[next(iter(self._names))]  # the oldest first: dicts keep order
        return model

    def load(self, models_dir: Path, version: str | None) -> None:
        """Load the bundle named at start-up; if it is refused, the version the other workers
        serve when there are some (a worker replacing one that died), else no model."""
        try:
            self.model = self._remember(_load_model(models_dir, version))
        except Exception as exc:  # the service must stay up and say why it is not ready
            self.model = None
            self.reason = _failure_reason(exc, models_dir, version)
            self._serve_what_the_others_serve(models_dir, version)
        else:
            logger.info("serving model %s from %s", self.model.version, models_dir)
            self.record.write(Served(self.model.version))

    def _serve_what_the_others_serve(self, models_dir: Path, version: str | None) -> None:
        served = self.record.read()
        refusal = _refusal(models_dir, version, self.reason)
        if served is None or served.version == refusal.version:
            return  # the first start of the service, or the others serve the refused version
        try:
            self.model = self._remember(_load_model(models_dir, served.version))
        except Exception as exc:
            logger.error(
                "%s, refused: %s; %r, the version the other workers serve, cannot be loaded "
                "either: %s",
                refusal.named,
                refusal.reason,
                served.version,
                _plain_reason(exc),
            )
            return
        logger.error("%s, the version the other workers serve", refusal.describe(served.version))
        self.record.write(Served(served.version, refusal))

    async def reload(
        self, models_dir: Path, version: str | None, *, unless_serving: bool = False
    ) -> ReloadOutcome:
        """Load and verify the bundle off the event loop, then swap it in; on failure keep the
        model being served, so a bad bundle never takes the service down.

        ``unless_serving``: load nothing when the version named is the one served already (a
        worker signalled by the supervisor it asked to signal every worker).
        """
        if self._reload_lock is None:
            self._reload_lock = asyncio.Lock()
        async with self._reload_lock:
            previous = self.model
            previous_version = previous.version if previous else None
            asked = _version_asked(models_dir, version) if unless_serving else None
            if previous_version is not None and asked == previous_version:
                # The record stays as it is: this worker wrote it when it reloaded, and a
                # refusal a sibling recorded since must stand.
                return ReloadOutcome(True, previous_version, previous_version, skipped=True)
            try:
                model = await anyio.to_thread.run_sync(_load_model, models_dir, version)
            except Exception as exc:
                reason = _failure_reason(exc, models_dir, version)
                if previous is None:
                    self.reason = reason
                else:
                    refusal = _refusal(models_dir, version, reason)
                    self.record.write(Served(previous.version, refusal))
                return ReloadOutcome(False, previous_version, previous_version, reason)
            self.model = self._remember(model)
            self.record.write(Served(model.version))
            if previous is not None and previous.version != model.version:
                # Callers finishing a chunked batch may pin the version they started with.
                self.previous = previous
            return ReloadOutcome(True, model.version, previous_version)

    def load_pinned(self, models_dir: Path, versions: Sequence[str]) -> None:
        """Load the extra versions callers may ask for by name; bundles never change, so
        these are loaded once and are not touched by a reload.

        One that cannot be loaded stops the start (ExtraVersionUnavailable): an operator asked
        for it by name, so a service that is ready without it would be ready by mistake.
        """
        for version in versions:
            try:
                self.pinned[version] = self._remember(_load_model(models_dir, version))
            except Exception as exc:
                raise ExtraVersionUnavailable(
                    f"{ENV_PREFIX}EXTRA_VERSIONS names version {version!r}, which cannot be "
                    f"loaded from {models_dir}: {_plain_reason(exc)}"
                ) from exc

    def require(self, version: str | None = None, field: str = "query.version") -> SegmentModel:
        """The current model, or the served ``version`` (a 404 naming ``field`` otherwise)."""
        current = self.model
        if version is None or (current is not None and current.version == version):
            if current is None:
                raise ModelUnavailable(f"no model is loaded: {self.reason}")
            return current
        if version in self.pinned:
            return self.pinned[version]
        if self.previous is not None and self.previous.version == version:
            return self.previous
        message = f"model version {version!r} is not served; available: {self.describe_available()}"
        raise NotFound(message, [FieldProblem(field=field, message=message)])

    def served(self) -> list[SegmentModel]:
        """The current model, then every other version a request may name."""
        models = [self.model] if self.model is not None else []
        others = [m for _, m in sorted(self.pinned.items())]
        if self.previous is not None:
            others.append(self.previous)
        for model in others:
            if model.version not in {m.version for m in models}:
                models.append(model)
        return models

    def refused(self) -> str | None:
        """What the service was last asked to serve and refused, while this process serves
        another version; None when nothing refused stands."""
        served = self.record.read()
        model = self.model
        if served is None or served.refused is None or model is None:
            return None
        if served.refused.version == model.version:
            return None
        return served.refused.describe(model.version)

    def describe_available(self) -> str:
        names = [f"{m.version} (current)" if m is self.model else m.version for m in self.served()]
        return ", ".join(names) or "none"


def _failure_reason(exc: Exception, models_dir: Path, version: str | None) -> str:
    """Why a model is not served, for callers: the version and the reason, with no path of
    this server in it. The log gets the whole message, paths included."""
    if isinstance(exc, BundleError):
        logger.error("model not loaded: %s", exc)
        return without_server_paths(str(exc), models_dir)
    logger.error("model not loaded", exc_info=exc)
    return (
        f"bundle {_version_named(models_dir, version)}: unexpected error while loading the "
        f"model ({type(exc).__name__}); see the server log"
    )


def _plain_reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, BundleError) else f"{type(exc).__name__}: {exc}"


def _version_asked(models_dir: Path, version: str | None) -> str | None:
    """The version a load is for: the pinned one, else the one CURRENT names (None if it
    cannot be read)."""
    if version is not None:
        return version
    try:
        return current_version(models_dir)
    except BundleError:
        return None


def _refusal(models_dir: Path, version: str | None, reason: str) -> Refusal:
    named = _version_asked(models_dir, version)
    if version is not None:
        return Refusal(named, f"{ENV_PREFIX}MODEL_VERSION names {version!r}", reason)
    return Refusal(named, "CURRENT" if named is None else f"CURRENT names {named!r}", reason)


def _version_named(models_dir: Path, version: str | None) -> str:
    """The version a load was for, for a message."""
    asked = _version_asked(models_dir, version)
    return "named by CURRENT" if asked is None else repr(asked)


def without_server_paths(message: str, models_dir: Path) -> str:
    """Paths inside the models folder become relative to it (``<version>/model.joblib``);
    any other absolute path is cut to its last part."""
    for prefix in {str(models_dir.resolve()), str(models_dir.absolute()), str(models_dir)}:
        message = message.replace(prefix.rstrip("/") + "/", "")
    return _ABSOLUTE_PATH.sub(lambda match: match.group(1), message)
