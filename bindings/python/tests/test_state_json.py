"""The fast checkpoint-state encoder (libwflo's wflo_py_json_dumps, through _fast.py) writes
exactly json.dumps's bytes: randomized states of every kind it encodes, compared byte for byte,
and everything else declined to json.dumps, which encodes or refuses it as it always did."""
import dataclasses
import enum
import json
import math
import random
import struct
import sys
import uuid
from collections import OrderedDict, namedtuple

import pytest

from wflo import _fast
from wflo.errors import WfloError
from wflo.workflow import state_json

fast = _fast.py_json_dumps
pytestmark = pytest.mark.skipif(fast is None, reason="the fast encoder runs on CPython with the GIL only")


def fields(value):
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def reference(state):
    """What state_json wrote before the fast encoder: the text, or the refusal's message."""
    try:
        return json.dumps(state, default=fields, allow_nan=False)
    except (TypeError, ValueError) as e:
        return f"invalid argument: checkpoint state is not JSON-serialisable: {e}"


def ours(state):
    try:
        return state_json(state)
    except WfloError as e:
        return str(e)


ALPHABET = ([chr(c) for c in range(0x20)] + [chr(c) for c in range(0x20, 0x7F)] * 4 + ["\x7f", "\x80", "\x9f",
            "\xa0", "é", "ß", "\u0100", "\u07ff", "\u0800", "€", "\u2028", "\u2029", "\ud7ff", "\ue000", "\ufeff",
            "\ufffd", "\uffff", "\U00010000", "😀", "\U0001f9ff", "\U0010ffff", '"', "\\", "/"])


def random_str(rng):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.choice([0, 1, 2, 5, 12, 40])))


def random_float(rng):
    kind = rng.random()
    if kind < 0.4:
        while True:  # any finite double, from its bits
            x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
            if math.isfinite(x):
                return x
    if kind < 0.8:
        return rng.uniform(-1, 1) * 10.0 ** rng.randint(-30, 30)
    return rng.choice([0.0, -0.0, 1.0, -1.0, 0.1, 1e-5, 1e-4, 1e15, 1e16, 1e17, 123456789012345678.0, 5e-324,
                       2.2250738585072014e-308, 1.7976931348623157e308, 0.5, 1 / 3, 2.0 ** 53, 2.0 ** 63])


def random_int(rng):
    return rng.choice([0, 1, -1, 2 ** 31, 2 ** 53 + 1, 2 ** 63 - 1, -(2 ** 63), rng.randint(-10 ** 6, 10 ** 6),
                       rng.randint(-(2 ** 63), 2 ** 63 - 1)])


def random_value(rng, depth=0):
    kind = rng.random()
    if depth < 4 and kind < 0.25:
        return {random_str(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}
    if depth < 4 and kind < 0.4:
        items = [random_value(rng, depth + 1) for _ in range(rng.randint(0, 6))]
        return tuple(items) if rng.random() < 0.2 else items
    return rng.choice([random_str, random_float, random_int, lambda r: r.choice([True, False, None])])(rng)


def count(value):
    if isinstance(value, dict):
        return 1 + sum(count(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return 1 + sum(count(v) for v in value)
    return 1


def test_random_plain_states_are_json_dumps_byte_for_byte():
    rng, values = random.Random(19), 0
    while values < 120_000:
        state = {"state": random_value(rng)} if rng.random() < 0.7 else random_value(rng)
        values += count(state)
        want = json.dumps(state, allow_nan=False)
        got = fast(state)
        assert got == want, state
        assert state_json(state) == want


def test_every_float_is_repr():
    rng = random.Random(2)
    floats = [random_float(rng) for _ in range(200_000)]
    assert fast(floats) == json.dumps(floats)


def test_every_character_escapes_as_json_dumps():
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert fast([text, {text: text}]) == json.dumps([text, {text: text}])


def test_the_bench_state():
    docs = [{"id": i, "title": f"Result number {i} about tokenizers", "url": f"https://example.com/docs/{i}",
             "score": float(f"0.{i:04}"), "summary": "Byte pair encoding merges the most frequent pair."}
            for i in range(500)]
    assert fast({"documents": docs}) == json.dumps({"documents": docs})


class S(str):
    pass


class I(int):
    def __repr__(self):
        return "I!"


class F(float):
    def __repr__(self):
        return "F!"


class D(dict):
    pass


class L(list):
    pass


class Color(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 3


class Mode(str, enum.Enum):
    FAST = "fast"


@dataclasses.dataclass
class Point:
    x: float
    y: list


P = namedtuple("P", "a b")


def declined():
    """States the fast encoder leaves to json.dumps (which encodes or refuses them)."""
    cases = [S("é"), I(5), F(1.5), D(a=1), L([1]), OrderedDict(a=1), Level.HIGH, Mode.FAST, Point(1.5, [S("x")]),
             P(1, 2), {1: "int key"}, {1.5: 0}, {True: 0}, {None: 0}, {S("k"): 1}, 2 ** 64, -(2 ** 63) - 1,
             10 ** 30, "\ud800", {"\udfff": 1}, float("nan"), float("inf"), -float("inf"), Color.RED, uuid.uuid4(),
             b"bytes", {1, 2}, object(), Decimal(1), complex(1, 2), [[]] * 0 + [[[[[[1]]]]]] * 2]
    try:
        import pydantic

        class Model(pydantic.BaseModel):
            a: int
            b: str

        cases.append(Model(a=1, b="é"))
    except ImportError:
        pass
    return cases


from decimal import Decimal  # noqa: E402


@pytest.mark.parametrize("value", declined(), ids=lambda v: type(v).__name__)
def test_what_it_declines_json_dumps_decides(value):
    for state in (value, {"k": value}, [1, value], {"a": [{"b": (value,)}]}):
        if fast(state) == "":
            assert ours(state) == reference(state)
        else:  # plain after all (the nested list case)
            assert fast(state) == json.dumps(state)


def test_refusals_are_the_same_error_as_before():
    for value in (float("nan"), float("inf"), Color.RED, uuid.uuid4(), object(), {1, 2}):
        with pytest.raises(WfloError) as e:
            state_json({"x": [value]})
        assert str(e.value) == reference({"x": [value]})


def test_cycles_and_deep_nesting_are_json_dumps_errors():
    cycle = []
    cycle.append(cycle)
    with pytest.raises(WfloError, match="Circular reference"):
        state_json({"c": cycle})
    deep = 1
    for _ in range(199):
        deep = [deep]
    assert fast(deep) == json.dumps(deep)
    deeper = [deep]
    assert fast([deeper]) == "" and state_json([deeper]) == json.dumps([deeper])


def test_strings_are_left_as_they_were():
    s = "é" * 10 + "😀"
    before = sys.getrefcount(s)
    assert fast([s, s]) == json.dumps([s, s])
    assert sys.getrefcount(s) == before
