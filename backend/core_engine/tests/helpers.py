"""Test helpers (plain functions) shared by the core_engine tests."""
from __future__ import annotations

import random

import numpy as np

# Everyday words of varied length and sound, so unpunctuated test sentences do
# not repeat one phrase (which the model might rush or drone).
WORD_POOL = (
    "the old man lived alone in a quiet house near the river and every morning he walked "
    "along the stony path to watch boats drift past green fields while children laughed "
    "somewhere beyond tall hedges full of birds singing under a pale autumn sky that "
    "promised rain before evening came slowly over distant hills covered with heather "
    "bright lanterns glowed warmly through narrow windows as travellers hurried homeward "
    "carrying baskets of bread apples cheese and letters from faraway cousins"
).split()


def word_sentence(n_chars: int, seed: int = 0) -> str:
    """An unpunctuated sentence of exactly ``n_chars`` characters built from WORD_POOL."""
    rng = random.Random(seed)
    words: list[str] = []
    length = -1
    while length < n_chars:
        word = rng.choice(WORD_POOL)
        words.append(word)
        length += len(word) + 1
    text = " ".join(words)[:n_chars].rstrip()
    while len(text) < n_chars:  # the cut landed on a space
        text += "a"
    return text


def sine(freq: float, seconds: float, amplitude: float, sample_rate: int = 24000) -> np.ndarray:
    """A float32 sine wave: ``amplitude`` peak, ``seconds`` long, at ``sample_rate`` Hz."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
