"""The simulator's `/v1/embeddings`: a deterministic unit vector per input, vLLM-shaped.

Pure functions. A vector is derived from the SHA-256 of its input, so the same text
always gets the same embedding and different texts (almost surely) different ones.
`encoding_format: "base64"` (what the official Python SDK asks for) packs the floats as
little-endian float32, as OpenAI and vLLM do.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

import orjson

from thinkingthoughts.simulator.config import SimulatorConfig
from thinkingthoughts.simulator.protocol import ErrorAnswer, bad_request, check_model
from thinkingthoughts.simulator.replies import text_token_ids

EMBEDDING_DIMENSIONS = 32


def embedding_of(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """A unit vector of `dimensions` floats, a pure function of `text`."""
    raw: list[float] = []
    counter = 0
    while len(raw) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        raw += [byte / 127.5 - 1.0 for byte in digest]
        counter += 1
    vector = raw[:dimensions]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def embedding_inputs(value: object) -> list[str] | None:
    """The texts to embed: a string, a list of strings, token ids or lists of them."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, str) for v in value):
        return list(value)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [" ".join(map(str, value))]
    if all(isinstance(v, list) and all(isinstance(t, int) for t in v) for v in value):
        return [" ".join(map(str, v)) for v in value]
    return None


def embeddings_body(body: dict[str, Any], config: SimulatorConfig) -> bytes | ErrorAnswer:
    """vLLM's answer to an embeddings request, or the error it gives."""
    model_error = check_model(body, config)
    if model_error is not None:
        return model_error
    texts = embedding_inputs(body.get("input"))
    if texts is None:
        return bad_request("`input` must be a string, a list of strings or of token ids.")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        return bad_request("`encoding_format` must be 'float' or 'base64'.")
    dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        return bad_request("`dimensions` must be a positive integer.")
    tokens = sum(len(text_token_ids(text)) for text in texts)
    data = [
        {"object": "embedding", "index": index,
         "embedding": _encoded(embedding_of(text, dimensions), encoding)}
        for index, text in enumerate(texts)
    ]  # fmt: skip
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return orjson.dumps({"object": "list", "data": data, "model": config.model, "usage": usage})


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
