"""The fast checkpoint-state encoder (libwflo's wflo_py_json_dumps, through _fast.py) writes
exactly json.dumps's bytes: randomized states of every kind it encodes, compared byte for byte,
and everything else declined to json.dumps, which encodes or refuses it as it always did."""
import dataclasses
import enum
import json
import math
import os
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


def boundary_floats():
    """Doubles where the layout or the digits change: powers of ten and their neighbours
    (positional below 1e16 and from 1e-4, exponent beyond), integers near 2**53, subnormals,
    the extremes."""
    out = [0.0, -0.0, 5e-324, -5e-324, 1e-323, 2.2250738585072014e-308, 2.225073858507201e-308,
           1.7976931348623157e308, 9999999999999998.0, 1e16, 1e-5, 0.0001, 0.00009999999999999999]
    for k in range(54):
        out += [2.0 ** 53 + k, 2.0 ** 53 - k, 2.0 ** k, 2.0 ** -k]
    for e in range(-324, 309):
        x = float(f"1e{e}")
        for y in (x, math.nextafter(x, 0), math.nextafter(x, math.inf), float(f"9.999999999999999e{e}"),
                  float(f"1.5e{e}"), float(f"5e{e}")):
            out += [y, -y]
    for e in range(-1074, 1024):
        out += [2.0 ** e, math.nextafter(2.0 ** e, 0), math.nextafter(2.0 ** e, math.inf)]
    return [x for x in out if math.isfinite(x)]


# A million doubles in `make test` (the formatting was proven on 5 million when written:
# WFLO_FLOAT_CASES=5000000 runs that again).
FLOAT_CASES = int(os.environ.get("WFLO_FLOAT_CASES", "1000000"))


def test_many_floats_are_repr():
    """float.__repr__ (what json.dumps writes a float with) vs libwflo's own shortest-digit
    formatting, on FLOAT_CASES doubles: random bit patterns, random magnitudes 1e-320..1e308,
    short decimals, subnormals and every boundary of boundary_floats."""
    rng = random.Random(53)
    pack, unpack = struct.Struct("<Q").pack, struct.Struct("<d").unpack
    total = 0
    chunk = boundary_floats()
    while total < FLOAT_CASES:
        for _ in range(250_000):
            kind = rng.random()
            if kind < 0.45:
                x = unpack(pack(rng.getrandbits(64)))[0]
            elif kind < 0.8:
                x = rng.random() * 10.0 ** rng.randint(-320, 308)
            elif kind < 0.9:
                x = unpack(pack(rng.getrandbits(52)))[0]  # subnormals
            else:
                x = round(rng.uniform(-1e6, 1e6), rng.randint(0, 8))  # short decimals
            if math.isfinite(x):
                chunk.append(x)
        assert fast(chunk) == "[" + ", ".join(map(repr, chunk)) + "]"
        total += len(chunk)
        chunk = []


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


# --- json.loads (wflo_py_json_loads through _fast.py) ---

loads = _fast.py_json_loads


def same(a, b):
    """Equal and of the very same types all the way down (1 is not 1.0, -0.0 is not 0.0, and
    a dict's members in the same order)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def big_int(rng):
    return rng.choice([2 ** 63, -(2 ** 63) - 1, 2 ** 64, 10 ** 19, -(10 ** 19), 10 ** rng.randint(19, 400) + 7,
                       -rng.getrandbits(rng.randint(65, 2000)), 99999999999999999999])


def loads_value(rng, depth=0):
    kind = rng.random()
    if depth < 4 and kind < 0.25:
        return {random_str(rng): loads_value(rng, depth + 1) for _ in range(rng.randint(0, 6))}
    if depth < 4 and kind < 0.4:
        return [loads_value(rng, depth + 1) for _ in range(rng.randint(0, 6))]
    if kind < 0.45:
        return big_int(rng)
    return rng.choice([random_str, random_float, random_int, lambda r: r.choice([True, False, None])])(rng)


DUMPS = [dict(), dict(ensure_ascii=False), dict(separators=(",", ":")), dict(indent=2),
         dict(indent="\t", ensure_ascii=False), dict(separators=("\r\n,", " :\t"))]

HAND_WRITTEN = [
    '{"a": 1, "b": 2, "a": 3}', '{"a": {"x": 1}, "a": [2], "b": null, "a": "last"}', '{"k": 1, "k": 1.0}',
    '"\\/\\"\\\\\\b\\f\\n\\r\\t"', '"\\u00E9\\u00e9\\u20AC\\uFFFF\\u0000\\u001f"', '"\\uD83D\\uDE00\\ud83d\\ude00x"',
    '"\\udbff\\udfff"', '"\\ud800"', '"\\udfff\\ud800"', '"a\\ud800b"', '["\\ud800\\u0041"]', '{"\\udc00": 1}',
    "NaN", "[Infinity, -Infinity]", '{"x": NaN}', "1e400", "-1e400", "1E5", "1e-400", "-0", "-0.0", "0e0", "0E+0",
    "-0e-0", "0.1000000000000000055511151231257827021181583404541015625", "1" * 4300, "-" + "9" * 4300,
    "1" * 4301, "123456789012345678", "-123456789012345678", "1234567890123456789", "-9223372036854775808",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809", "  [1 , 2 ]\n", "\t{\r\n}\n",
    '"é😀"', '{"é": "😀"}', "[]", "{}", '""', "null", "true", "false", "[1,]", "{,}", "01", "1.", ".5", "+1",
    '"\t"', '"\x7f"', '"abc', "[1] x", "{1: 2}", "[" * 300 + "]" * 300, "[" * 200 + "]" * 200,
    "[" * 201 + "]" * 201, "\ufeff[1]", "", " ", "nul", "tru", '"\\x"', '"\\u12"', '"\\u12G4"',
]


def loads_outcome(fn, data):
    try:
        return "ok", fn(data)
    except (ValueError, RecursionError) as e:
        return "error", type(e).__name__


def test_loads_is_json_loads_on_random_texts():
    rng, texts = random.Random(7), 0
    while texts < 100_000:
        value = {"state": loads_value(rng)} if rng.random() < 0.7 else loads_value(rng)
        data = json.dumps(value, **rng.choice(DUMPS)).encode()
        got = loads.raw(data)
        assert got is not _fast._DECLINED, data
        assert same(got, json.loads(data)), data
        texts += 1


def test_loads_of_hand_written_texts_is_json_loads():
    for text in HAND_WRITTEN:
        data = text.encode("utf-8", "surrogatepass")
        want, got = loads_outcome(json.loads, data), loads_outcome(loads, data)
        assert want[0] == got[0] and (same(want[1], got[1]) or want[1] != want[1]), text[:80]


def test_loads_declines_only_the_unusual():
    for text in ['"\\ud800"', '{"\\udc00": 1}', "NaN", "[1,]", "1" * 4301, "[" * 201 + "]" * 201, "\ufeff[1]", ""]:
        assert loads.raw(text.encode()) is _fast._DECLINED, text[:40]
    for text in ['{"a": 1, "a": 2}', "1e400", "1" * 4300, "[" * 200 + "]" * 200, '"\\ud83d\\ude00"']:
        assert loads.raw(text.encode()) is not _fast._DECLINED, text[:40]


def test_loads_leaks_nothing():
    import gc
    import tracemalloc

    texts = [t.encode("utf-8", "surrogatepass") for t in HAND_WRITTEN if not t.startswith("[" * 300)]
    texts += [json.dumps(loads_value(random.Random(i))).encode() for i in range(200)]
    texts += [b'[1, 2, {"a": [3, "x", 2e5, 99999999999999999999, null, true, false]}, NaN]',
              b'{"a": [1, 2], "b": {"c": "d"}, "e": "\\ud800"}', b'[null, true, false, "x", 1, 1.5, 1e99, [' + b"1" * 4301]

    def run():
        for data in texts:
            loads_outcome(loads.raw, data)

    def singletons():
        gc.collect()
        return [sys.getrefcount(x) for x in (None, True, False, _fast._DECLINED)]

    run()
    before = singletons()
    for _ in range(20):
        run()
    assert singletons() == before
    tracemalloc.start()
    try:
        run()
        gc.collect()
        before = tracemalloc.take_snapshot()
        for _ in range(50):
            run()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 10_000, grown


def test_loads_of_the_bench_state():
    docs = [{"id": i, "title": f"Result number {i} about tokenizers", "url": f"https://example.com/docs/{i}",
             "score": float(f"0.{i:04}"), "summary": "Byte pair encoding merges the most frequent pair."}
            for i in range(500)]
    data = json.dumps({"documents": docs}).encode()
    assert same(loads(data), json.loads(data))


# -- the one-call save (wflo_py_checkpoint_save): encoded and saved without a second check ---------

save_fast = _fast.py_checkpoint_save


@pytest.fixture
def started(tmp_path):
    import wflo

    engine = wflo.Engine.open(str(tmp_path / "states.db"))
    wf = wflo.WfloWorkflow("states", engine=engine).start_sync()
    yield wf
    engine.close()


def stored(wf, info):
    content_type, data = _fast.checkpoint_state_any(wf._c, info["id"])
    assert content_type is None
    return data.decode()


def test_one_call_save_stores_json_dumps_bytes(started):
    assert save_fast is not None
    rng = random.Random(19)
    for i in range(300):
        state = random_value(rng)
        info = started.checkpoint_sync(f"s{i}", state)
        assert stored(started, info) == json.dumps(state)
        assert started.checkpoint_state(info["id"]) == json.loads(json.dumps(state))
        assert info["state_bytes"] == len(json.dumps(state).encode())


def test_one_call_save_gives_the_same_info_as_the_text_save(started):
    state = {"messages": [{"role": "user", "content": "héllo"}], "n": 3}
    one = save_fast(started._c, started.execution_id, "one", state)
    text = _fast.checkpoint_save(started._c, started.execution_id, "text", json.dumps(state))
    assert list(one) == list(text)
    for key in ("execution_id", "superseded", "state_bytes"):
        assert one[key] == text[key]
    assert text["parent_id"] == one["id"] and text["sequence"] == one["sequence"] + 1
    assert stored(started, one) == stored(started, text)


@pytest.mark.parametrize("value", declined(), ids=lambda v: type(v).__name__)
def test_one_call_save_declines_what_json_dumps_decides_and_saves_nothing(started, value):
    before = len(started.checkpoints())
    state = {"a": [{"b": (value,)}]}
    if fast(state) != "":
        return  # plain after all (see test_what_it_declines_json_dumps_decides)
    assert save_fast(started._c, started.execution_id, "declined", state) is None
    assert len(started.checkpoints()) == before
    expected = reference(state)
    if expected.startswith("invalid argument"):
        with pytest.raises(WfloError) as e:
            started.checkpoint_sync("declined", state)
        assert str(e.value) == expected
        assert len(started.checkpoints()) == before
    else:  # checkpoint_sync then saves json.dumps's text
        assert stored(started, started.checkpoint_sync("declined", state)) == expected


def test_one_call_save_refuses_bad_names_with_typed_errors(started):
    from wflo.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        started.checkpoint_sync("  ", {"x": 1})
    with pytest.raises(InvalidArgumentError, match="checkpoint name"):
        save_fast(started._c, started.execution_id, "bad\x00name", {"x": 1})
    assert started.checkpoints() == []
    assert started.checkpoint_sync("fine", {"x": 1})["sequence"] == 1


def test_async_checkpoint_saves_the_state_as_it_was_at_the_call(started):
    import asyncio

    assert _fast.py_state_encode is not None
    state = {"step": 1, "messages": ["a"]}

    async def mutate():  # runs once the checkpoint awaits its worker thread
        state["step"] = 2
        state["messages"].append("b")

    async def run():
        saved, _ = await asyncio.gather(started.checkpoint("at-call", state), mutate())
        assert state["step"] == 2
        return saved

    info = asyncio.run(run())
    assert stored(started, info) == '{"step": 1, "messages": ["a"]}'


def test_an_encoded_state_saves_on_another_thread_and_again(started):
    import threading

    encoded = _fast.py_state_encode({"x": [1.5, "é"]})
    done = []
    worker = threading.Thread(target=lambda: done.append(encoded.save(started._c, started.execution_id, "w")))
    worker.start()
    worker.join()
    again = encoded.save(started._c, started.execution_id, "again")
    assert stored(started, done[0]) == stored(started, again) == json.dumps({"x": [1.5, "é"]})
    assert _fast.py_state_encode({"x": float("nan")}) is None
    with pytest.raises(WfloError, match="checkpoint name"):
        encoded.save(started._c, started.execution_id, "")
    del encoded  # freed by the library; nothing else holds it


def test_loads_reuses_repeated_keys_as_json_loads_does():
    text = json.dumps([{"role": "user", "content": str(i), "k" * 40: i} for i in range(50)]).encode()
    ours, theirs = _fast.py_json_loads(text), json.loads(text)
    assert ours == theirs
    for records in (ours, theirs):
        first = list(records[0])
        assert all(list(r)[0] is first[0] and list(r)[1] is first[1] for r in records)
