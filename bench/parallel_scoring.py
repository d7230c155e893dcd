"""Data-parallel scoring and generation on the default world's real data: one process against N, byte for byte.

    PYTHONPATH=src:. OMP_NUM_THREADS=2 .venv/bin/python bench/parallel_scoring.py [--processes 2] [--aligner ica]
        [--parts reference,evaluate,generate] [--rows 0] [--out bench/results]

Needs a pipeline run's outputs in this folder (`dvc repro`, or a copy of its data/ and models/). Each part runs as its
stage runs it, first in this process (the default, `num_processes: 1`), then across `--processes` ranks under the
`deepspeed` launcher, and compares the outputs byte for byte:
- reference: the base model's log-probs of every val example of both aligners (alignx.modeling.reference.score_all);
- evaluate: every scoring measurement of evaluate@<aligner> (experiments.measure; PBA also direction_inference): the
  per-pair score tables and the metrics document; the one-process figures are also compared with the pipeline's
  metrics/<aligner>.json (the sections this part recomputes);
- generate: every response of generate@<aligner> (generate_stage.run): the generations table; the one-process
  responses are also compared with the pipeline's data/generate/<aligner>/generations.parquet.
`--rows N` (0: all) keeps the first N examples of each scored file and eval set (evaluate: also at most N / 4 robustness
records; generate: at most N records per split), for a loaded machine. The one process gets the OMP_NUM_THREADS threads (else the available cores), each rank that total divided by N
(alignx.pipeline.launcher.launcher_env): the same cores either way. Seconds are wall time, the ranks' start
(interpreter, imports, model load) included; the machine's load average is recorded at the start and end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from result_files import write_results  # bench/result_files.py, beside this script

from alignx import threads
from alignx.config import load_section
from alignx.contracts import ALIGNERS, BASE_DIR, FORMAT_DIR, generate_dir, metrics_file

ROOT = Path(__file__).resolve().parents[1]


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def reference_part(processes: int, rows: int) -> dict[str, bytes]:
    """Every val example of both aligners (the first `rows`; 0: all) under the base model: {file key: the scored
    arrays' bytes}."""
    from alignx.modeling import reference
    from alignx.modeling.parallel_scoring import ScoringFile, score_files

    job = replace(reference.scoring_job(BASE_DIR, load_section("reference")), num_processes=processes, device="cpu")
    files = [ScoringFile(f"{a}.val", str(FORMAT_DIR / a / "val.parquet"), list(range(rows)) if rows else None)
             for a in ALIGNERS]
    parts = ROOT / f".bench-parts-{os.getpid()}"
    try:
        scored = score_files(job, files, parts)
    finally:
        import shutil

        shutil.rmtree(parts, ignore_errors=True)
    return {k: b"".join(a.tobytes() for a in v) for k, v in scored.items()}


def evaluate_part(aligner: str, processes: int, rows: int) -> tuple[dict[str, bytes], dict]:
    """evaluate@<aligner>'s scoring measurements: {table: parquet bytes} plus the metrics document's bytes, and the
    document."""
    from alignx.evaluation import direction_inference, eval_sets, evaluate, report
    from alignx.evaluation.experiments import measure

    p = replace(load_section("evaluate"), num_processes=processes, device="cpu")
    if rows:
        p = replace(p, robustness_records=max(1, min(p.robustness_records, rows // 4)))
    fmt, spc, bench = load_section("format"), load_section("space"), load_section("benchmarks")
    frames = {}
    for name, (files, _) in eval_sets.eval_sets(aligner, list(p.splits), bench.files).items():
        frame = eval_sets.load(eval_sets.with_vpl(files, aligner, name))
        frame = frame.head(rows).reset_index(drop=True) if rows else frame
        if not frame.empty:
            frames[name] = frame
    ev = evaluate.build_evaluator(aligner, p, spc, fmt.max_len)

    def measurements():
        res, tables = measure(ev, frames, p)
        predicted = (direction_inference.for_stage(ev, frames, p, bench.files, fmt, spc, res)
                     if aligner == "pba" else None)
        return res, tables, predicted

    res, tables, predicted = evaluate.scored(ev, p, measurements)
    doc = report.metrics_document(res)
    res.speed = {}  # seconds differ by construction
    out = {f"table:{k}": parquet_bytes(v) for k, v in tables.items()}
    out["metrics"] = json.dumps([report.metrics_document(res), predicted], sort_keys=True, default=str).encode()
    return out, doc


def generate_part(aligner: str, processes: int, rows: int) -> tuple[dict[str, bytes], pd.DataFrame]:
    """generate@<aligner>'s responses: the generations table's bytes, and the table."""
    from alignx import generate_stage

    p = replace(load_section("generate"), num_processes=processes, device="cpu")
    if rows:
        p = replace(p, records={k: min(v, rows) for k, v in p.records.items()})
    fmt, spc, personas = load_section("format"), load_section("space"), load_section("personas")
    sets = generate_stage.load_sets(aligner, p, fmt.max_len, lambda *a, **k: None)
    gen = generate_stage.build_generator(aligner, p, fmt.max_len, spc)
    generations, _ = generate_stage.run(gen, sets, p, personas.novel_indices)
    return {"generations": parquet_bytes(generations)}, generations


def same_sections(ours: dict, path: Path, keys: tuple[str, ...]) -> dict[str, bool]:
    """Whether each section of `keys` equals the pipeline's metrics file's (figures this part recomputes)."""
    if not path.exists():
        return {}
    theirs = json.loads(path.read_text())

    def strip(x):  # the pipeline's document also has VPL when that stage ran; both come from the same files
        return json.loads(json.dumps(x, sort_keys=True, default=str))

    return {k: strip(ours.get(k)) == strip(theirs.get(k)) for k in keys if k in theirs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--aligner", default="ica", choices=ALIGNERS)
    parser.add_argument("--parts", default="reference,evaluate,generate")
    parser.add_argument("--rows", type=int, default=0, help="first N examples per file / eval set (0: all)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    os.chdir(ROOT)  # stages read their inputs relative to the repository root
    chosen = threads.configure()
    result: dict = {"processes": args.processes, "aligner": args.aligner, "rows": args.rows, "threads": chosen,
                    "load_1min_start": os.getloadavg()[0], "parts": {},
                    "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H%M")}
    for part in [p for p in args.parts.split(",") if p]:
        timings, outputs, extra = {}, {}, {}
        for n in (1, args.processes):
            start = time.perf_counter()
            if part == "reference":
                outputs[n] = reference_part(n, args.rows)
            elif part == "evaluate":
                outputs[n], doc = evaluate_part(args.aligner, n, args.rows)
                if n == 1 and not args.rows:
                    extra["same_as_pipeline_metrics"] = same_sections(doc, metrics_file(args.aligner),
                                                                      ("test", "test_by_mode", "eval_sets", "robustness", "readers"))
            elif part == "generate":
                outputs[n], generations = generate_part(args.aligner, n, args.rows)
                if n == 1 and not args.rows:
                    old = generate_dir(args.aligner) / "generations.parquet"
                    if old.exists():
                        cols = ["set", "system", "record_id", "response"]
                        extra["same_responses_as_pipeline"] = bool(
                            pd.read_parquet(old)[cols].reset_index(drop=True).equals(generations[cols].reset_index(drop=True)))
            else:
                raise SystemExit(f"unknown part {part!r}")
            timings[n] = time.perf_counter() - start
            print(f"{part}: {n} process(es) {timings[n]:.1f} s", flush=True)
        one, many = outputs[1], outputs[args.processes]
        identical = sorted(one) == sorted(many) and all(one[k] == many[k] for k in one)
        result["parts"][part] = {"seconds_1": round(timings[1], 1), f"seconds_{args.processes}": round(timings[args.processes], 1),
                                 "speedup": round(timings[1] / timings[args.processes], 2), "identical": identical,
                                 "outputs_compared": sorted(one), **extra}
        print(f"{part}: {result['parts'][part]}", flush=True)
        write(result, args, chosen)  # after each part: a run stopped later keeps what it measured


def write(result: dict, args: argparse.Namespace, chosen: dict) -> None:
    """The figures so far as bench/results/parallel_scoring-<stamp>-<host>.{json,md} (stamped with the run's
    start: a later part of the same run rewrites the same files)."""
    result["load_1min_end"] = os.getloadavg()[0]
    n = args.processes
    lines = [f"# Data-parallel scoring and generation: 1 process against {n} ({os.cpu_count()} CPUs, load "
             f"{result['load_1min_start']:.1f} -> {result['load_1min_end']:.1f})", "",
             f"`bench/parallel_scoring.py --processes {n} --aligner {args.aligner} --rows {args.rows}` on the default "
             f"world's data ({'all examples' if not args.rows else f'the first {args.rows} examples of each file / set'}); one "
             f"process with {chosen['threads']} torch thread(s) ({chosen['source']}), each rank that total / {n}. "
             "Wall seconds, the ranks' start-up included. On a shared machine the figures move with the load.", "",
             f"| part | 1 process s | {n} processes s | speed-up | byte-identical | notes |", "|---|---:|---:|---:|---|---|"]
    for part, v in result["parts"].items():
        notes = "; ".join(f"{k}: {v[k]}" for k in ("same_as_pipeline_metrics", "same_responses_as_pipeline") if k in v)
        lines.append(f"| {part} | {v['seconds_1']} | {v[f'seconds_{n}']} | {v['speedup']} | {v['identical']} | {notes} |")
    write_results(args.out, "parallel_scoring", result, lines, stamp=result["started"])


if __name__ == "__main__":
    main()
