"""The tiny model's tokenizer: byte-level BPE trained on the train split's text (nothing to download)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from alignx.inputs.prompts import DEMO, PAIR, UGC

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"


def corpus_texts(records: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """Every text a record holds: the post, both responses, UGC posts and comments, PAIR posts and responses,
    and the DEMO text."""
    for record in records:
        yield from (str(record["prompt"]), str(record["chosen"]), str(record["rejected"]))
        for item in record.get(UGC) if record.get(UGC) is not None else ():
            yield from (str(item["prompt"]), str(item["comment"]))
        for item in record.get(PAIR) if record.get(PAIR) is not None else ():
            yield from (str(item["prompt"]), str(item["chosen"]), str(item["rejected"]))
        if record.get(DEMO):
            yield str(record[DEMO])


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer of `vocab_size` tokens (the 256 bytes, merges, and BOS / EOS / PAD), wrapped
    as a transformers tokenizer so it saves and loads with the model folder. Byte-level: any text encodes,
    there is no unknown token."""
    if vocab_size < 300:
        raise ValueError(f"vocab_size {vocab_size}: a byte-level BPE needs more than 256 bytes + 3 special tokens")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)


def pad_id(tokenizer: Any) -> int:
    """The id to pad with: PAD when the tokenizer has one, else EOS (padding is masked out everywhere)."""
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    if tokenizer.eos_token_id is None:
        raise ValueError(f"{type(tokenizer).__name__}: neither a pad nor an eos token; cannot pad batches")
    return int(tokenizer.eos_token_id)
