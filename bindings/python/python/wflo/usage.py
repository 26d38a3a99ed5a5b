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


def plain(value: Any) -> Any:
    """A JSON-able form of anything a call returned or is given: pydantic models (v2 or v1)
    and dataclasses as their fields, nested ones too."""
    return json.loads(json.dumps(value, default=_fields))


def _fields(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        # serialize_as_any: a field declared as a base class (LangChain's ChatGeneration.message
        # is a BaseMessage) keeps its subclass's fields (an AIMessage's usage_metadata).
        for options in ({"mode": "json", "serialize_as_any": True}, {"mode": "json"}, {}):
            try:
                return dump(**options)
            except TypeError:
                continue
    as_dict = getattr(value, "dict", None)
    if callable(as_dict):
        return as_dict()
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def result_json(result: Any) -> str:
    """JSON text of what a call returned (an SDK response, a LangChain message or LLMResult, a
    dict, or JSON text already), for the engine to read its usage or, without any, its text."""
    if isinstance(result, (bytes, bytearray)):
        result = result.decode()
    if isinstance(result, str):
        return result
    return json.dumps(result, default=_fields)
