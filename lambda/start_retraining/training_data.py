"""The training data a run reads: a snapshot of the incoming prefix, written as a SageMaker manifest.

SageMaker decides a cached step from its arguments, never from the data an S3 URI points to
(https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-default-keys.html). So every run
gets a manifest whose key is a hash of the listing: new, changed or deleted data gives a new
key, hence new Preprocess arguments and a fresh run; unchanged data gives the same key and
may reuse the cached steps.

The manifest format is SageMaker's (S3DataSource, S3DataType ManifestFile): a JSON array of
`{"prefix": "s3://bucket/prefix/"}` followed by keys relative to that prefix.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from retraining_settings import Settings

from contracts import INPUT_MANIFESTS_PREFIX, RAW_DATA_SUFFIX

MANIFEST_SUFFIX = ".manifest"


class NoTrainingDataError(ValueError):
    """There is nothing to train on under the incoming prefix; no run is started."""


@dataclass(frozen=True)
class DataObject:
    """The current version of one object under the incoming prefix."""

    key: str
    version_id: str
    etag: str
    size: int


@dataclass(frozen=True)
class Snapshot:
    """The objects a run reads, sorted by key, and where they live; `skipped`: the others, with why."""

    prefix_uri: str
    objects: tuple[DataObject, ...]
    # Not part of the fingerprint: only what the run reads decides its cache key.
    skipped: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the prefix and every object's key, version, ETag and size.

        The version id changes on every write to a versioned bucket, even when the ETag would
        not (S3 documents ETags of SSE-KMS objects as not being an MD5 of the content).
        """
        listing = [self.prefix_uri, *([o.key, o.version_id, o.etag, o.size] for o in self.objects)]
        return hashlib.sha256(json.dumps(listing, separators=(",", ":")).encode()).hexdigest()

    def manifest(self, incoming_prefix: str) -> list[Any]:
        return [{"prefix": self.prefix_uri}, *(o.key.removeprefix(incoming_prefix) for o in self.objects)]


def why_not_training_data(key: str) -> str | None:
    """Why the Preprocess step would not read the object `key`, or None when it would.

    Preprocess reads uncompressed `*.csv` files, the suffix in lower case (contracts.RAW_DATA_SUFFIX).
    `.CSV` and `.csv.gz` are refused with a reason rather than read: preprocess belongs to the data
    contract, and a file it does not read must neither start a run nor vanish without a word.
    """
    name = key.rsplit("/", 1)[-1]
    if key.endswith("/"):
        return "a folder marker (its key ends in '/'), not training data"
    if name.endswith(RAW_DATA_SUFFIX):
        return None
    lower = name.lower()
    if lower.endswith(RAW_DATA_SUFFIX):
        return f"named with a suffix other than '{RAW_DATA_SUFFIX}' in lower case, which preprocess reads (rename it)"
    if RAW_DATA_SUFFIX + "." in lower:
        return f"compressed or archived, and preprocess reads uncompressed '*{RAW_DATA_SUFFIX}' files"
    return f"not a '*{RAW_DATA_SUFFIX}' file, so not training data"


def is_training_object(key: str, settings: Settings) -> bool:
    """A file the Preprocess step reads (see why_not_training_data)."""
    return why_not_training_data(key) is None


def current_objects(s3: Any, settings: Settings) -> tuple[list[DataObject], list[str]]:
    """The latest version of every object under the prefix: those to train on, and the keys skipped.

    Deleted objects (whose latest version is a delete marker) are listed under DeleteMarkers,
    not Versions, so they drop out here. Needs s3:ListBucketVersions on the data bucket.
    """
    objects: list[DataObject] = []
    skipped: list[str] = []
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=settings.data_bucket, Prefix=settings.incoming_prefix):
        for version in page.get("Versions", []):
            if not version["IsLatest"]:
                continue
            key = version["Key"]
            if not is_training_object(key, settings):
                skipped.append(key)
                continue
            objects.append(DataObject(key, version["VersionId"], version["ETag"], version["Size"]))
    return sorted(objects, key=lambda o: o.key), skipped


def take_snapshot(s3: Any, settings: Settings) -> Snapshot:
    """The data a run started now would read; refuses when there is none."""
    objects, skipped = current_objects(s3, settings)
    if not objects:
        others = f"; found only {len(skipped)} other object(s), e.g. {skipped[:3]}" if skipped else ""
        raise NoTrainingDataError(
            f"No *{RAW_DATA_SUFFIX} object under {settings.incoming_uri}{others}: "
            "nothing to train on, so no run was started."
        )
    reasons = tuple(f"{key}: {why_not_training_data(key)}" for key in skipped if not key.endswith("/"))
    return Snapshot(prefix_uri=settings.incoming_uri, objects=tuple(objects), skipped=reasons)


def write_manifest(s3: Any, settings: Settings, snapshot: Snapshot) -> str:
    """Writes the snapshot's manifest under its content-derived key; returns its S3 URI.

    Writing again for unchanged data rewrites identical content under the same key, so the
    URI a run passes to the pipeline stays the same.
    """
    key = f"{INPUT_MANIFESTS_PREFIX}{snapshot.fingerprint}{MANIFEST_SUFFIX}"
    s3.put_object(
        Bucket=settings.manifest_bucket,
        Key=key,
        Body=json.dumps(snapshot.manifest(settings.incoming_prefix), indent=1).encode(),
        ContentType="application/json",
    )
    return f"s3://{settings.manifest_bucket}/{key}"
