"""ICA and PBA inputs: ONE template for training and evaluation (the original release used two, a known flaw).

    persona = sample_persona(record, rng, proportions)          # which history items / DEMO an example shows
    text = render_ica(record, persona)                          # persona (UGC, PAIR, DEMO) then the post
    text = render_pba(profile_text, post)                       # verbalized profile then the post
    text = render_plain(post)                                   # no persona (evaluation baseline)
    ids = tokenize_example(tokenizer, text, chosen, rejected, max_len)

The tiny model reads a plain fixed layout; a tokenizer with a chat template (smollm2, hf:<path>) gets the user
text wrapped in its template. Responses are tokenized on their own and end with EOS, so the prompt / response
boundary is exact; the prompt never receives a partial response token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alignx.contracts import DEMO, DIRECTION, MAX_ITEMS, MODES, PAIR, UGC

RESPONSE_HEADER = "### Response\n"


class FormatError(ValueError):
    """A record cannot be formatted (the message names the record and the field)."""


@dataclass(frozen=True)
class Persona:
    """What one example shows: indices into the record's UGC and PAIR lists (oldest first) and the DEMO flag."""

    mode: str
    ugc: tuple[int, ...] = ()
    pair: tuple[int, ...] = ()
    demo: bool = False

    @property
    def n_items(self) -> int:
        return len(self.ugc) + len(self.pair)

    def cut_oldest(self) -> tuple["Persona", bool]:
        """The persona with its oldest history item dropped (UGC and PAIR alternately, oldest of each first),
        then the DEMO text; (same persona, False) when nothing is left to cut."""
        if self.ugc and (len(self.ugc) >= len(self.pair)):
            return Persona(self.mode, self.ugc[1:], self.pair, self.demo), True
        if self.pair:
            return Persona(self.mode, self.ugc, self.pair[1:], self.demo), True
        if self.demo:
            return Persona(self.mode, self.ugc, self.pair, False), True
        return self, False


@dataclass
class Tokenized:
    """Token ids of one example and how much persona was cut to fit."""

    prompt_text: str
    prompt_ids: list[int]
    chosen_ids: list[int]
    rejected_ids: list[int]
    max_len: int
    n_cut: int = 0
    persona: Persona | None = field(default=None)

    @property
    def length(self) -> int:
        """The longest input the model sees: prompt + the longer response."""
        return len(self.prompt_ids) + max(len(self.chosen_ids), len(self.rejected_ids))

    @property
    def fits(self) -> bool:
        return self.length <= self.max_len


def record_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator that depends only on the seed and the record's keys, so a record formats the same way
    whatever chunk or order it arrives in."""
    digest = hashlib.blake2b("\0".join([str(seed), *keys]).encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def _items(record: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = record.get(key)
    return [] if items is None else list(items)


def sample_persona(
    record: Mapping[str, Any], rng: np.random.Generator, proportions: Mapping[str, float], allow_demo: bool = True
) -> Persona:
    """Draw a persona mode (ugc / pair / demo / mixed, by `proportions`) among those the record can fill, then
    its items: a single-source mode shows all of that source, `mixed` shows 0-4 of each source, never empty.

    `allow_demo=False` (PBA) never draws DEMO: its profile is inferred from direction vectors, DEMO text has none.
    """
    n_ugc, n_pair = min(len(_items(record, UGC)), MAX_ITEMS), min(len(_items(record, PAIR)), MAX_ITEMS)
    has_demo = allow_demo and bool(str(record.get(DEMO) or "").strip())
    available = {"ugc": n_ugc > 0, "pair": n_pair > 0, "demo": has_demo, "mixed": (n_ugc + n_pair + has_demo) > 1}
    modes = [m for m in MODES if available[m] and proportions.get(m, 0) > 0]
    if not modes:
        raise FormatError(
            f"record {record.get('record_id')!r}: no persona to show (UGC items: {n_ugc}, PAIR items: {n_pair}, "
            f"DEMO: {'yes' if has_demo else 'no'}); mode proportions {dict(proportions)}"
        )
    weights = np.array([proportions[m] for m in modes], dtype=float)
    mode = modes[rng.choice(len(modes), p=weights / weights.sum())]
    if mode == "ugc":
        return Persona("ugc", ugc=tuple(range(n_ugc)))
    if mode == "pair":
        return Persona("pair", pair=tuple(range(n_pair)))
    if mode == "demo":
        return Persona("demo", demo=True)
    while True:  # mixed: 0-4 of each source, redrawn until at least one thing is shown
        k_ugc, k_pair = int(rng.integers(0, n_ugc + 1)), int(rng.integers(0, n_pair + 1))
        demo = has_demo and bool(rng.integers(0, 2))
        if k_ugc + k_pair + demo:
            # Shown items keep the record's order (oldest first), so cutting drops the oldest.
            ugc = tuple(sorted(rng.choice(n_ugc, k_ugc, replace=False).tolist()))
            pair = tuple(sorted(rng.choice(n_pair, k_pair, replace=False).tolist()))
            return Persona("mixed", ugc=ugc, pair=pair, demo=demo)


def render_ica(record: Mapping[str, Any], persona: Persona) -> str:
    """ICA's user text: the persona shown (UGC as post + comment, PAIR as post + chosen + rejected, DEMO) and
    the post."""
    ugc, pair = _items(record, UGC), _items(record, PAIR)
    blocks = []
    for i in persona.ugc:
        blocks.append(f"[Comment]\nPost: {ugc[i]['prompt']}\nUser's comment: {ugc[i]['comment']}")
    for i in persona.pair:
        item = pair[i]
        blocks.append(
            f"[Comparison]\nPost: {item['prompt']}\nPreferred: {item['chosen']}\nLess preferred: {item['rejected']}"
        )
    parts = []
    if blocks:
        parts.append("### User history\n" + "\n\n".join(blocks))
    if persona.demo:
        parts.append(f"### About the user\n{record[DEMO]}")
    parts.append(f"### Post\n{record['prompt']}")
    return "\n\n".join(parts)


def render_pba(profile_text: str, post: str) -> str:
    """PBA's user text: the verbalized preference profile and the post."""
    return f"### User preferences\n{profile_text}\n\n### Post\n{post}"


def render_plain(post: str) -> str:
    """The post alone (no persona): the non-personalized baseline input."""
    return f"### Post\n{post}"


def shown_directions(record: Mapping[str, Any], persona: Persona) -> list[Sequence[float]] | None:
    """Direction vectors of the history items shown, or None when any of them has none (benchmarks)."""
    ugc, pair = _items(record, UGC), _items(record, PAIR)
    vectors = [ugc[i].get(DIRECTION) for i in persona.ugc] + [pair[i].get(DIRECTION) for i in persona.pair]
    if not vectors or any(v is None for v in vectors):
        return None
    return [list(v) for v in vectors]


def wrap_prompt(tokenizer: Any, user_text: str) -> str:
    """The full model input for `user_text`: the chat template when the tokenizer has one, else the plain
    layout followed by the response header."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": user_text}], tokenize=False, add_generation_prompt=True
        )
    return f"{user_text}\n\n{RESPONSE_HEADER}"


def encode_prompt(tokenizer: Any, prompt_text: str) -> list[int]:
    """Prompt ids: BOS (when the tokenizer defines one and the text does not already start with it) + text."""
    ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    if bos is not None and (not ids or ids[0] != bos):
        ids = [bos] + ids
    return ids


def encode_response(tokenizer: Any, response: str) -> list[int]:
    """Response ids, ending with EOS (the model learns where its answer stops)."""
    return tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]


def tokenize_example(tokenizer: Any, user_text: str, chosen: str, rejected: str, max_len: int) -> Tokenized:
    """Token ids of one input built from `user_text` (template applied by `wrap_prompt`) and both responses.
    Nothing is cut: `Tokenized.fits` says whether prompt + the longer response fit `max_len`; the format gate
    rejects an example that does not. Use `fit_persona` / `fit_profile` to cut a persona until it fits."""
    text = wrap_prompt(tokenizer, user_text)
    return Tokenized(
        text, encode_prompt(tokenizer, text), encode_response(tokenizer, chosen),
        encode_response(tokenizer, rejected), max_len=max_len,
    )


def fit_persona(
    tokenizer: Any,
    render: Callable[[Persona], str],
    persona: Persona,
    chosen: str,
    rejected: str,
    max_len: int,
) -> Tokenized:
    """Render and tokenize, cutting the persona (oldest items first, DEMO last) until prompt + the longer
    response fit `max_len`. The post and the responses are never cut: if they alone do not fit, the result
    stays too long and the gate rejects it."""
    chosen_ids, rejected_ids = encode_response(tokenizer, chosen), encode_response(tokenizer, rejected)
    budget = max_len - max(len(chosen_ids), len(rejected_ids))
    n_cut = 0
    while True:
        text = wrap_prompt(tokenizer, render(persona))
        prompt_ids = encode_prompt(tokenizer, text)
        if len(prompt_ids) <= budget:
            break
        persona, cut = persona.cut_oldest()
        if not cut:
            break
        n_cut += 1
    return Tokenized(text, prompt_ids, chosen_ids, rejected_ids, max_len, n_cut, persona)


def fit_profile(
    tokenizer: Any, profile_labels: Sequence[str], post: str, chosen: str, rejected: str, max_len: int
) -> tuple[Tokenized, str]:
    """PBA: render and tokenize, dropping the profile's last labels until the input fits `max_len` (the post
    and responses are never cut). Returns the example and the profile text shown; `n_cut` counts labels dropped."""
    chosen_ids, rejected_ids = encode_response(tokenizer, chosen), encode_response(tokenizer, rejected)
    budget = max_len - max(len(chosen_ids), len(rejected_ids))
    labels = list(profile_labels)
    n_cut = 0
    while True:
        profile = ", ".join(labels)
        text = wrap_prompt(tokenizer, render_pba(profile, post))
        prompt_ids = encode_prompt(tokenizer, text)
        if len(prompt_ids) <= budget or not labels:
            break
        labels.pop()
        n_cut += 1
    return Tokenized(text, prompt_ids, chosen_ids, rejected_ids, max_len, n_cut), profile
