"""Importers of real files into the AlignX record schema (alignx.world.records.SCHEMA).

* The released AlignX dataset: `.parquet`, `.json` (a list of records) or `.jsonl` files in a local folder,
  with the released field names.
* The paper's benchmark JSON shape (P-Soups, PRISM, UF-P-4): `prompt`, `chosen`, `rejected`, optional
  `ground_truth_persona`, optional `profile`, `Pair-wise Comparative Feedback` without direction vectors.

A malformed record raises RecordError naming the file, the record index and the field; with
`on_bad_record="skip"` it is counted and skipped instead (the caller logs the count).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from alignx import space
from alignx.contracts import DEMO, DIRECTION, MAX_ITEMS, PAIR, SPLITS, UGC
from alignx.world.records import SCHEMA

SUFFIXES = (".parquet", ".json", ".jsonl")
BATCH = 10_000
# What one input may cost: a text field longer than MAX_TEXT_CHARS characters is a bad record (the paper's longest
# inputs, 8,192 tokens, are about 35,000 characters); a `.jsonl` line longer than MAX_RECORD_BYTES is refused
# before it is parsed, and a `.json` file (parsed whole) larger than MAX_JSON_BYTES is refused before it is read.
MAX_TEXT_CHARS = 100_000
MAX_RECORD_BYTES = 4 * 2**20
MAX_JSON_BYTES = 256 * 2**20


class ImportFileError(ValueError):
    """A file that can't be read as records (not UTF-8, not JSON, a damaged parquet, too large): names the file."""


class RecordError(ValueError):
    """A record that does not fit the schema: where it is and what is wrong."""

    def __init__(self, file: Path | str, index: int, field_name: str, problem: str):
        self.file, self.index, self.field = str(file), index, field_name
        super().__init__(f"{file}: record {index}: field {field_name!r}: {problem}")


@dataclass
class Skipped:
    """Bad records skipped under `on_bad_record: skip` (count and the first messages)."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, error: RecordError) -> None:
        self.count += 1
        if len(self.examples) < 20:
            self.examples.append(str(error))


def iter_raw(path: Path) -> Iterator[dict[str, Any]]:
    """The records of one file, in order, as dicts. A file that can't be decoded raises ImportFileError naming it
    (and the line or byte where decoding failed)."""
    try:
        yield from _iter_raw(path)
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except (pa.ArrowException, OSError) as exc:
        raise ImportFileError(f"{path}: can't be read as {path.suffix[1:]} ({type(exc).__name__}: {exc})") from None


def _iter_raw(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH):
            yield from batch.to_pylist()
    elif path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            line_no = 0
            while line := fh.readline(MAX_RECORD_BYTES + 1):
                if len(line) > MAX_RECORD_BYTES:
                    raise RecordError(path, line_no, "<record>", f"longer than {MAX_RECORD_BYTES} characters")
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise RecordError(path, line_no, "<json>", f"invalid JSON ({exc})") from None
                line_no += 1
    elif path.suffix == ".json":
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise ImportFileError(f"{path}: {size} bytes, more than the {MAX_JSON_BYTES} a .json file may hold "
                                  "(it is parsed whole): convert it to .jsonl or .parquet")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"{path}: invalid JSON ({exc})") from None
        if not isinstance(data, list):
            raise ImportFileError(f"{path}: expected a JSON list of records, got {type(data).__name__}")
        yield from data
    else:
        raise ImportFileError(f"{path}: unsupported file type (expected one of {', '.join(SUFFIXES)})")


class _Record:
    """Field accessors of one raw record that raise RecordError with its location."""

    def __init__(self, raw: Any, file: Path, index: int):
        if not isinstance(raw, dict):
            raise RecordError(file, index, "<record>", f"expected an object, got {type(raw).__name__}")
        self.raw, self.file, self.index = raw, file, index

    def fail(self, name: str, problem: str) -> RecordError:
        return RecordError(self.file, self.index, name, problem)

    def text(self, name: str, value: Any, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            raise self.fail(name, "missing" if value is None else f"expected a string, got {type(value).__name__}")
        if required and not value.strip():
            raise self.fail(name, "empty text")
        if len(value) > MAX_TEXT_CHARS:
            raise self.fail(name, f"{len(value)} characters, at most {MAX_TEXT_CHARS} allowed")
        return value

    def vector(self, name: str, value: Any, nullable: bool) -> list[float] | None:
        if value is None:
            if nullable:
                return None
            raise self.fail(name, "missing direction vector")
        try:
            return space.validate_direction(list(value), where="vector")
        except (space.DirectionError, TypeError) as exc:
            raise self.fail(name, str(exc)) from None

    def items(self, name: str, texts: tuple[str, ...], nullable: bool) -> list[dict]:
        value = self.raw.get(name)
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            raise self.fail(name, f"expected a list, got {type(value).__name__}")
        if len(value) > MAX_ITEMS:
            raise self.fail(name, f"{len(value)} items, at most {MAX_ITEMS} allowed")
        out = []
        for k, item in enumerate(value):
            where = f"{name}[{k}]"
            if not isinstance(item, dict):
                raise self.fail(where, f"expected an object, got {type(item).__name__}")
            row = {t: self.text(f"{where}.{t}", item.get(t)) for t in texts}
            row[DIRECTION] = self.vector(f"{where}.{DIRECTION}", item.get(DIRECTION), nullable)
            out.append(row)
        return out

    def pair(self) -> tuple[str, str, str]:
        prompt, chosen, rejected = (self.text(n, self.raw.get(n)) for n in ("prompt", "chosen", "rejected"))
        if chosen == rejected:
            raise self.fail("rejected", "identical to chosen")
        return prompt, chosen, rejected


def alignx_record(raw: Any, file: Path, index: int) -> dict[str, Any]:
    """One released AlignX record in SCHEMA (ids and split filled in by the caller)."""
    rec = _Record(raw, file, index)
    prompt, chosen, rejected = rec.pair()
    return {
        "record_id": str(raw.get("record_id") or raw.get("id") or f"{file.stem}-{index:07d}"),
        "user_id": str(raw.get("user_id") or ""),
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        DIRECTION: rec.vector(DIRECTION, raw.get(DIRECTION), nullable=False),
        DEMO: rec.text(DEMO, raw.get(DEMO), required=False),
        UGC: rec.items(UGC, ("prompt", "comment"), nullable=False),
        PAIR: rec.items(PAIR, ("prompt", "chosen", "rejected"), nullable=False),
        "profile": "",
        "ground_truth_persona": "",
    }


def benchmark_record(raw: Any, file: Path, index: int, name: str) -> dict[str, Any]:
    """One benchmark record in SCHEMA: direction from `profile` (null without one), PAIR directions null."""
    rec = _Record(raw, file, index)
    prompt, chosen, rejected = rec.pair()
    profile = rec.text("profile", raw.get("profile"), required=False)
    direction = None
    if profile.strip():
        try:
            direction = space.parse_profile(profile)
        except space.DirectionError as exc:
            raise rec.fail("profile", str(exc)) from None
    record_id = f"{name}-{index:05d}"
    return {
        "record_id": record_id,
        "user_id": record_id,
        "split": name,
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        DIRECTION: direction,
        DEMO: rec.text(DEMO, raw.get(DEMO), required=False),
        UGC: rec.items(UGC, ("prompt", "comment"), nullable=True),
        PAIR: rec.items(PAIR, ("prompt", "chosen", "rejected"), nullable=True),
        "profile": profile,
        "ground_truth_persona": rec.text("ground_truth_persona", raw.get("ground_truth_persona"), required=False),
    }


def benchmark_path(root: str | Path, name: str, file: str) -> Path:
    """The file of benchmark `name` (params `benchmarks.files.<name>`): an existing file inside `benchmarks.root`,
    the stage's DVC dependency (a file elsewhere would not re-run anything when edited)."""
    root = Path(root)
    path = root / file
    if not path.resolve().is_relative_to(root.resolve()):
        raise ImportFileError(f"params benchmarks.files.{name}: {file} is outside benchmarks.root ({root}); "
                              "put it under the root so that DVC tracks it")
    if not path.is_file():
        raise FileNotFoundError(f"params benchmarks.files.{name}: {path} does not exist")
    return path


def read_benchmark(path: Path, name: str, on_bad_record: str = "fail") -> tuple[pa.Table, Skipped]:
    """A benchmark JSON file as a records table (split = `name`); a file with no usable record is an error."""
    skipped, rows = Skipped(), []
    for index, raw in enumerate(iter_raw(path)):
        try:
            rows.append(benchmark_record(raw, path, index, name))
        except RecordError as error:
            _handle(error, on_bad_record, skipped)
    if not rows:
        raise ImportFileError(f"{path}: benchmark {name!r} has no records"
                              + (f" ({skipped.count} skipped as bad)" if skipped.count else ""))
    return pa.Table.from_pylist(rows, schema=SCHEMA), skipped


def split_of(path: Path, user_id: str, val_fraction: float, test_fraction: float) -> str:
    """A file named for a split (e.g. `test.parquet`) gives that split; otherwise a stable hash of the user."""
    for split in SPLITS:
        if split in path.stem.lower():
            return split
    bucket = zlib.crc32(user_id.encode()) % 10_000 / 10_000
    return "val" if bucket < val_fraction else "test" if bucket < val_fraction + test_fraction else "train"


def iter_alignx(
    folder: Path, on_bad_record: str, val_fraction: float, test_fraction: float, skipped: Skipped
) -> Iterator[tuple[str, pa.Table]]:
    """(split, table of up to BATCH records) for every record of every data file in `folder`, streaming."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in SUFFIXES) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"{folder}: no {', '.join(SUFFIXES)} files (params pairs.import_dir)")
    for path in files:
        batches: dict[str, list[dict]] = {}
        for index, raw in enumerate(iter_raw(path)):
            try:
                row = alignx_record(raw, path, index)
            except RecordError as error:
                _handle(error, on_bad_record, skipped)
                continue
            row["user_id"] = row["user_id"] or row["record_id"]  # no user ids released: one user per record
            row["split"] = split_of(path, row["user_id"], val_fraction, test_fraction)
            batch = batches.setdefault(row["split"], [])
            batch.append(row)
            if len(batch) == BATCH:
                yield row["split"], pa.Table.from_pylist(batches.pop(row["split"]), schema=SCHEMA)
        for split, rows in batches.items():
            yield split, pa.Table.from_pylist(rows, schema=SCHEMA)


def _handle(error: RecordError, on_bad_record: str, skipped: Skipped) -> None:
    if on_bad_record == "skip":
        skipped.add(error)
    elif on_bad_record == "fail":
        raise error
    else:
        raise ValueError(f"on_bad_record: {on_bad_record!r} is not one of fail, skip") from error
