"""Finding the usage in what an LLM call returned: a dict or JSON text, an OpenAI or
Anthropic SDK object (pydantic), a LangChain message or LLMResult. The engine's parsers read
the JSON; this module only gets the right part of the object into JSON."""
from __future__ import annotations

import json
from typing import Any, Optional


def _plain(value: Any) -> Any:
    """A JSON-able form of a pydantic model (v2 or v1), a dict, or the value itself."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json")
        except TypeError:
            return dump()
    as_dict = getattr(value, "dict", None)
    if callable(as_dict) and not isinstance(value, dict):
        return as_dict()
    return value


def usage_payload(result: Any) -> Optional[dict]:
    """The part of ``result`` that carries usage, as a dict the engine's parsers read, or None
    when it has none."""
    if result is None or isinstance(result, (bytes, int, float, bool)):
        return None
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return None
    if isinstance(result, dict):
        return result if ("usage" in result or "usage_metadata" in result) else None
    # A LangChain message (AIMessage, AIMessageChunk).
    metadata = getattr(result, "usage_metadata", None)
    if metadata:
        return {"usage_metadata": dict(metadata)}
    # A LangChain LLMResult / ChatResult: the first generation's message.
    generations = getattr(result, "generations", None)
    if generations:
        first = generations[0]
        first = first[0] if isinstance(first, list) and first else first
        message = getattr(first, "message", None)
        if message is not None and getattr(message, "usage_metadata", None):
            return {"usage_metadata": dict(message.usage_metadata)}
    # An SDK response object (OpenAI, Anthropic, Gemini…): its usage field.
    for name in ("usage", "usage_metadata"):
        usage = getattr(result, name, None)
        if usage is not None:
            plain = _plain(usage)
            if isinstance(plain, dict):
                payload = {name: plain}
                kind = getattr(result, "object", None) or getattr(result, "type", None)
                if isinstance(kind, str):
                    payload["object" if hasattr(result, "object") else "type"] = kind
                return payload
    return None


def usage_json(result: Any) -> str:
    """JSON text of ``result``'s usage (``{}`` when there is none: the parser then says so)."""
    payload = usage_payload(result)
    return json.dumps(payload if payload is not None else {})


def text_of(result: Any) -> str:
    """The generated text of a result, for estimating output when no usage came back."""
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    content = getattr(result, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Anthropic content blocks, LangChain content parts
        parts = []
        for block in content:
            text = block.get("text") if isinstance(block, dict) else getattr(block, "text", None)
            if isinstance(text, str):
                parts.append(text)
        return "".join(parts)
    choices = getattr(result, "choices", None)
    if choices:
        message = getattr(choices[0], "message", None)
        text = getattr(message, "content", None)
        if isinstance(text, str):
            return text
    text = getattr(result, "text", None) or getattr(result, "output_text", None)
    if isinstance(text, str):
        return text
    try:
        return json.dumps(_plain(result), default=str)
    except (TypeError, ValueError):
        return str(result)
