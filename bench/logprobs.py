"""Gathered-head vs full-logits response log-probs (time per forward+backward, logits memory), and shared-prompt
packing vs two sequences for reference scoring (`score_examples`, no grad).

    .venv/bin/python bench/logprobs.py [--vocab 49152] [--batch 8] [--prompt 384] [--response 64] [--repeats 3]

`alignx.modeling.logprobs.sequence_logprobs` applies the LM head only where a response token is predicted; the naive
path computes [B, T, V] logits. `score_examples` packs `prompt + chosen + rejected` in one row so the prompt
runs once; the alternative runs prompt + chosen and prompt + rejected as two rows. Timings are process CPU
time (all threads), which a machine shared with other jobs distorts far less than wall time.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from alignx.modeling import logprobs
from alignx.modeling.logprobs import collate, score_examples, sequence_logprobs


def full_logits(model, batch) -> torch.Tensor:
    """The textbook computation: all logits, log_softmax, mask the response tokens."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1].float()
    logps = torch.log_softmax(logits, -1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    return (logps * batch["response_mask"][:, 1:]).sum(-1)


def timed(fn, model, batch, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        model.zero_grad(set_to_none=True)
        start = time.process_time()
        fn(model, batch).sum().backward()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=49152, help="vocabulary (49152 = SmolLM2's)")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--prompt", type=int, default=384)
    ap.add_argument("--response", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.hidden * 3,
                         num_hidden_layers=args.layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2 * (args.prompt + args.response))
    model = LlamaForCausalLM(config)
    # Lengths vary around the given means, as formatted examples do (padding is part of the real cost).
    gen = torch.Generator().manual_seed(0)

    def rows(mean: int) -> list[list[int]]:
        lengths = torch.randint(mean // 2, mean * 3 // 2 + 1, (args.batch,), generator=gen).tolist()
        return [torch.randint(3, args.vocab, (n,), generator=gen).tolist() for n in lengths]

    prompts, responses, others = rows(args.prompt), rows(args.response), rows(args.response)
    batch = collate(prompts, responses, pad_id=0)
    with torch.no_grad():
        diff = (sequence_logprobs(model, batch) - full_logits(model, batch)).abs().max().item()
    t_gather = timed(sequence_logprobs, model, batch, args.repeats)
    t_full = timed(full_logits, model, batch, args.repeats)
    tokens = batch["input_ids"].shape[1]
    print(f"B={args.batch} T={tokens} (mean prompt {args.prompt}, mean response {args.response}) V={args.vocab} "
          f"hidden={args.hidden} layers={args.layers}")
    print(f"max |gathered - full| = {diff:.2e}")
    n_response = int(batch["response_mask"].sum())
    print(f"gathered head: {t_gather * 1000:8.1f} ms CPU fwd+bwd, logits {n_response * args.vocab * 4 / 2**20:8.1f} MiB")
    print(f"full logits:   {t_full * 1000:8.1f} ms CPU fwd+bwd, logits {args.batch * tokens * args.vocab * 4 / 2**20:8.1f} MiB")
    print(f"speed-up: {t_full / t_gather:.2f}x")

    frame = pd.DataFrame({"prompt_ids": prompts, "chosen_ids": responses, "rejected_ids": others})
    times = {}
    for name, types in (("packed pairs", ("llama",)), ("two sequences", ())):
        logprobs.PACKED_MODEL_TYPES = types
        start = time.process_time()
        for _ in range(args.repeats):
            score_examples(model, frame, args.batch, pad_id=0, progress=False)
        times[name] = (time.process_time() - start) / args.repeats
        print(f"score_examples, {name}: {times[name] * 1000:8.1f} ms CPU for {args.batch} examples")
    print(f"speed-up: {times['two sequences'] / times['packed pairs']:.2f}x")


if __name__ == "__main__":
    main()
