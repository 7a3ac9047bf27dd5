"""What a file was made for, and whether its content is still what was written.

Every data file of a study (the prepared dataset, class subsets, the natural adversarial set,
the corrupted test set, adversarial stores, weights, logits caches, white-box files) is sealed
by its writer with two things: an `identity` (JSON: its `kind`, and what the workflow planned
it for, e.g. the run folder, the attack and split, the sha256 of the job's settings, the image
size, the sha256 of the prepared dataset it was made from) and a `content_sha256` over
everything else in it. Before a job runs, the CLI verifies each of its inputs here: the digest
is recomputed, the identity compared with the one the workflow plans for that path
(planned_files.planned_identity), and inputs made from a prepared dataset or a model agree with
that dataset or model. A file that fails stops the job with one line naming the file, what
differs and the fix; nothing is used silently.

Where the seal lives:
  HDF5          root attributes `identity` (JSON) and `content_sha256`: sha256 over every
                group and dataset (names, dtypes, shapes, bytes) and every other attribute
  safetensors   keys `identity` and `content_sha256` of the metadata entry `robustsweep` (the
                model card's JSON): sha256 over the header (tensor names, dtypes, shapes,
                offsets, the card) and the data bytes
  JSON          keys `identity` and `content_sha256`: sha256 of the rest, canonically dumped
The digest costs one read of the file (about 1 s per GB); no layout changes, so a store stays
n·H·W·3 bytes of pixels plus its index columns.

Not sealed, by design: the tables folder (CSV and Markdown made from sealed files in seconds)
and each run's epochs.csv, its training log (read for the training summary beside the
sealed weights it was written with). The attack table reads only the success-report
attributes of stores and white-box files, not their pixels, so it does not hash them; the
jobs that read their images do.

Torch-free: the CLI verifies inputs before a stage imports anything heavy.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from robustsweep.input_errors import FileCheckError

SEAL_KEYS = ("identity", "content_sha256")
# what each kind of file is called in messages, and what rerunning does to it
NOUNS = {
    "dataset": "prepared dataset",
    "subset": "class subset",
    "natural_adversarial": "natural adversarial set",
    "store": "adversarial store",
    "weights": "weights file",
    "logits": "logits cache",
    "white_box": "white-box file",
    "white_box_shard": "white-box shard",
    "corruptions": "corrupted test set",
}
# identity keys that name another file by its content digest, and the job input that is it
LINEAGE = {"dataset_sha256": "dataset", "weights_sha256": "weights"}
BLOCK_BYTES = 1 << 25  # datasets are hashed in blocks of about 32 MB


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- identities the workflow planned for this job's outputs --------------------------------

_PLANNED: dict[str, dict] = {}


def plan_outputs(identities: dict[str, dict]) -> None:
    """Record the identities the workflow planned for this job's outputs (cli.run_stage)."""
    _PLANNED.clear()
    _PLANNED.update({str(Path(path)): dict(identity) for path, identity in identities.items()})


def planned_identity(output: str | Path) -> dict:
    """The identity planned for the output at `output`; empty outside a workflow job."""
    return dict(_PLANNED.get(str(Path(output)), {}))


def identity_for(kind: str, output: str | Path, **facts: Any) -> dict:
    """A writer's identity: its kind, what the workflow planned, what the writer knows
    (facts that are None are left out)."""
    known = {key: value for key, value in facts.items() if value is not None}
    return {"kind": kind, **planned_identity(output), **known}


# -- HDF5 -----------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    """A JSON-ready form of an HDF5 attribute or value, equal for equal content."""
    import numpy as np

    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        values = _canonical(value.tolist())
        return {"dtype": value.dtype.str, "shape": list(value.shape), "values": values}
    if isinstance(value, np.generic):
        return _canonical(value.item())
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def _attrs_text(obj, skip: tuple[str, ...] = ()) -> str:
    return json.dumps(
        {name: _canonical(obj.attrs[name]) for name in sorted(obj.attrs) if name not in skip},
        sort_keys=True,
        default=str,
    )


def _dataset_blocks(dataset) -> Iterator[bytes | memoryview]:
    """A dataset's content in blocks of rows (strings as JSON), for hashing."""
    import h5py
    import numpy as np

    if h5py.check_string_dtype(dataset.dtype) is not None:
        values = dataset.asstr()[()]
        yield json.dumps(np.asarray(values).tolist()).encode()
        return
    if dataset.shape == () or dataset.size == 0:
        yield np.ascontiguousarray(dataset[()]).tobytes()
        return
    row_bytes = max(1, dataset.dtype.itemsize * (dataset.size // dataset.shape[0]))
    step = max(1, BLOCK_BYTES // row_bytes)
    for start in range(0, dataset.shape[0], step):
        yield memoryview(np.ascontiguousarray(dataset[start : start + step])).cast("B")


def h5_content_digest(h5) -> str:
    """sha256 over every group and dataset of an open HDF5 file (names, attributes, dtypes,
    shapes, bytes) except the root's seal attributes."""
    import h5py

    digest = hashlib.sha256(b"robustsweep-h5-v1\0")
    digest.update(_attrs_text(h5, SEAL_KEYS).encode())
    names: list[str] = []
    h5.visit(names.append)
    for name in sorted(names):
        obj = h5[name]
        digest.update(f"\0{name}\0".encode())
        digest.update(_attrs_text(obj).encode())
        if isinstance(obj, h5py.Dataset):
            digest.update(f"{obj.dtype.str}{list(obj.shape)}".encode())
            for block in _dataset_blocks(obj):
                digest.update(block)
    return digest.hexdigest()


def seal_h5(h5, identity: dict) -> dict:
    """Stamp an open HDF5 file (opened for writing) with its identity and content digest.
    The last write to the file: anything written after it breaks the seal."""
    h5.attrs["identity"] = json.dumps(identity, sort_keys=True)
    h5.flush()
    h5.attrs["content_sha256"] = h5_content_digest(h5)
    return identity


# -- safetensors ---------------------------------------------------------------------------


def _safetensors_parts(raw: bytes) -> tuple[dict, memoryview]:
    """(header, data) of a safetensors file's bytes; ValueError if it is not one."""
    if len(raw) < 8:
        raise ValueError("shorter than a safetensors header")
    size = int.from_bytes(raw[:8], "little")
    if size > len(raw) - 8:
        raise ValueError(f"header of {size} bytes in a file of {len(raw)} bytes")
    header = json.loads(raw[8 : 8 + size])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header, memoryview(raw)[8 + size :]


# safetensors writes its metadata map in no fixed order (two keys come out in a random order,
# and the file's bytes with them), so the seal goes inside the one entry a weights file has
TENSOR_METADATA_KEY = "robustsweep"


def _unsealed_header(header: dict) -> dict:
    """The header as it was before the digest was added to the metadata entry."""
    header = json.loads(json.dumps(header))
    metadata = header.get("__metadata__") or {}
    if TENSOR_METADATA_KEY in metadata:
        entry = json.loads(metadata[TENSOR_METADATA_KEY])
        entry.pop("content_sha256", None)
        metadata[TENSOR_METADATA_KEY] = json.dumps(entry, sort_keys=True)
    return header


def _safetensors_digest(header: dict, data: memoryview) -> str:
    digest = hashlib.sha256(b"robustsweep-safetensors-v1\0")
    digest.update(json.dumps(_unsealed_header(header), sort_keys=True).encode())
    digest.update(data)
    return digest.hexdigest()


def sealed_tensor_metadata(tensors: dict, metadata: dict[str, str], identity: dict) -> dict:
    """The metadata to save `tensors` with: `metadata`, whose `robustsweep` entry (JSON) gains
    the identity and the digest of the file safetensors will write (serialised once in memory
    to hash it)."""
    from safetensors.torch import save

    entry = {**json.loads(metadata[TENSOR_METADATA_KEY]), "identity": identity}
    unsealed = {**metadata, TENSOR_METADATA_KEY: json.dumps(entry, sort_keys=True)}
    header, data = _safetensors_parts(save(tensors, metadata=unsealed))
    entry["content_sha256"] = _safetensors_digest(header, data)
    return {**metadata, TENSOR_METADATA_KEY: json.dumps(entry, sort_keys=True)}


def _tensor_seal_entry(metadata: dict | None) -> dict:
    return json.loads((metadata or {}).get(TENSOR_METADATA_KEY) or "{}")


# -- JSON ----------------------------------------------------------------------------------


def _json_digest(payload: dict) -> str:
    body = {k: v for k, v in payload.items() if k != "content_sha256"}
    return sha256_text(json.dumps(body, sort_keys=True))


def sealed_json(payload: dict, identity: dict) -> dict:
    """`payload` with its identity and content digest added."""
    payload = {**payload, "identity": identity}
    return {**payload, "content_sha256": _json_digest(payload)}


# -- reading seals -------------------------------------------------------------------------


class Seal:
    """A file's recorded identity and digest, and the digest of what is in it now."""

    def __init__(self, identity: dict | None, recorded: str | None, actual: str):
        self.identity, self.recorded, self.actual = identity, recorded, actual


def _read_h5(path: Path) -> Seal:
    import h5py

    with h5py.File(path, "r") as h5:
        identity = h5.attrs.get("identity")
        recorded = h5.attrs.get("content_sha256")
        actual = h5_content_digest(h5)
    return Seal(json.loads(identity) if identity else None, _text(recorded), actual)


def _read_safetensors(path: Path) -> Seal:
    header, data = _safetensors_parts(path.read_bytes())
    entry = _tensor_seal_entry(header.get("__metadata__"))
    actual = _safetensors_digest(header, data)
    return Seal(entry.get("identity"), entry.get("content_sha256"), actual)


def _read_json(path: Path) -> Seal:
    payload = json.loads(path.read_text())
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    return Seal(payload.get("identity"), payload.get("content_sha256"), _json_digest(payload))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


READERS = {".h5": _read_h5, ".safetensors": _read_safetensors, ".json": _read_json}


def read_seal(path: Path) -> Seal:
    """The seal of a file (OSError, ValueError or KeyError when it cannot be read)."""
    return READERS[path.suffix](path)


def recorded_digest(path: str | Path) -> str | None:
    """The content digest a file records, without recomputing it (what a writer puts in
    `dataset_sha256`: its inputs were verified when its job started)."""
    path = Path(path)
    try:
        if path.suffix == ".h5":
            import h5py

            with h5py.File(path, "r") as h5:
                return _text(h5.attrs.get("content_sha256"))
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="numpy") as handle:
                return _tensor_seal_entry(handle.metadata()).get("content_sha256")
        return json.loads(path.read_text()).get("content_sha256")
    except (OSError, ValueError, KeyError):
        return None


# -- verification --------------------------------------------------------------------------


def _noun(expected: dict) -> str:
    return NOUNS.get(expected.get("kind", ""), "file")


def _fix(expected: dict) -> str:
    again = "retrain it" if expected.get("kind") == "weights" else "regenerate it"
    return f"delete it and rerun the workflow to {again}"


def _difference(key: str, found: Any, wanted: Any) -> str:
    """What differs between a file's identity and the one the job expects, in words."""
    if key == "kind":
        return f"is a {NOUNS.get(found, found)}, not a {NOUNS.get(wanted, wanted)}"
    if key == "image_size":
        return f"holds {found} px images, not this study's {wanted} px"
    if key == "settings_sha256":
        return (
            f"was made with other settings (sha256 {str(found)[:12]}, the study's are "
            f"{str(wanted)[:12]}): copied from another study, or made before a settings change"
        )
    return f"was made for {key} {found!r}, not {wanted!r}"


def verify_file(path: str | Path, expected: dict) -> Seal:
    """Check that `path` is intact and is the file `expected` describes (every key of
    `expected` matches its identity); raise FileCheckError with one line otherwise."""
    path = Path(path)
    noun, fix = _noun(expected), _fix(expected)
    if not path.exists():
        raise FileCheckError(f"{path}: {noun} is missing; rerun the workflow to make it")
    try:
        seal = read_seal(path)
    except (OSError, ValueError, KeyError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise FileCheckError(f"{path}: {noun} is corrupt or truncated ({reason}); {fix}") from None
    if seal.identity is None or seal.recorded is None:
        raise FileCheckError(
            f"{path}: {noun} carries no identity or content digest (written by an older "
            f"robustsweep or another program); {fix}"
        )
    if seal.recorded != seal.actual:
        raise FileCheckError(
            f"{path}: {noun} content does not match its sha256 (altered or damaged after it "
            f"was written); {fix}"
        )
    for key, wanted in expected.items():
        found = seal.identity.get(key)
        if found != wanted:
            raise FileCheckError(f"{path}: this {noun} {_difference(key, found, wanted)}; {fix}")
    return seal


def _flat(tree: dict, nested) -> dict[str, Any]:
    """{"stores": {"fgsm": x}} -> {"stores__fgsm": x} (the rules' input names)."""
    flat = {}
    for name, value in tree.items():
        if nested(value):
            flat.update({f"{name}__{key}": inner for key, inner in value.items()})
        else:
            flat[name] = value
    return flat


def _path_group(value: Any) -> bool:
    return isinstance(value, dict)


def _identity_group(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())


def verify_inputs(paths: dict[str, Any], expected: dict[str, Any]) -> dict[str, Seal]:
    """Verify every input named in `expected` (same nesting as `paths`), then their lineage:
    inputs made from a prepared dataset or a model name the one this job reads."""
    paths, expected = _flat(paths, _path_group), _flat(expected, _identity_group)
    seals = {name: verify_file(paths[name], wanted) for name, wanted in expected.items()}
    for key, source in LINEAGE.items():
        carriers = {name: seal for name, seal in seals.items() if key in seal.identity}
        if source in seals:
            reference, origin = seals[source].actual, paths[source]
        elif carriers:
            first = min(carriers)
            reference, origin = carriers[first].identity[key], paths[first]
        else:
            continue
        for name, seal in sorted(carriers.items()):
            if seal.identity[key] != reference:
                noun = _noun(expected[name])
                raise FileCheckError(
                    f"{paths[name]}: this {noun} was made from another "
                    f"{NOUNS[LINEAGE[key]]} than {origin} (sha256 "
                    f"{str(seal.identity[key])[:12]}, not {reference[:12]}); {_fix(expected[name])}"
                )
    return seals
