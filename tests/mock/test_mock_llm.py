"""The mock LLM server against the REAL `openai` and `anthropic` Python packages: every
response parses, and the usage the clients report equals what wflo counts."""
import json
import urllib.request

import anthropic
import openai
import pytest

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Name three byte-pair encoding tokenizers.", "name": "alice"},
]


def oa(url, directives=None, **kw):
    base = f"{url}/mock/{directives}/v1" if directives else f"{url}/v1"
    return openai.OpenAI(base_url=base, api_key="mock", max_retries=0, **kw)


def an(url, directives=None, **kw):
    base = f"{url}/mock/{directives}" if directives else url
    return anthropic.Anthropic(base_url=base, api_key="mock", max_retries=0, **kw)


def stats(url):
    with urllib.request.urlopen(f"{url}/__mock/stats") as r:
        return json.load(r)


def test_chat_usage_is_wflos_count(mock_url, wflo_count):
    r = oa(mock_url).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert r.usage.prompt_tokens == wflo_count("gpt-4o-mini", MESSAGES, chat=True)
    text = r.choices[0].message.content
    assert r.usage.completion_tokens == wflo_count("gpt-4o-mini", text)
    assert r.choices[0].finish_reason == "stop"
    assert r.model == "gpt-4o-mini"


def test_chat_stream_usage_matches_the_plain_answer(mock_url):
    client = oa(mock_url)
    plain = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].choices == []
    assert chunks[-1].usage.model_dump() == plain.usage.model_dump()
    assert all(c.usage is None for c in chunks[:-1])


def test_cached_and_reasoning_tokens(mock_url, wflo_count):
    r = oa(mock_url, "cached=5,reasoning=7,reply=10").chat.completions.create(model="o3-mini", messages=MESSAGES)
    u = r.usage
    assert u.prompt_tokens_details.cached_tokens == 5
    assert u.completion_tokens_details.reasoning_tokens == 7
    assert u.completion_tokens == wflo_count("o3-mini", r.choices[0].message.content) + 7


def test_max_tokens_truncates(mock_url):
    r = oa(mock_url, "reply=50").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=8)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens <= 8


def test_tool_call(mock_url):
    r = oa(mock_url, "tool=search").chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        tools=[{"type": "function", "function": {"name": "search", "parameters": {"type": "object", "properties": {}}}}],
    )
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "search"
    assert json.loads(call.function.arguments)["query"]
    assert r.choices[0].finish_reason == "tool_calls"


def test_responses_api_plain_and_streamed(mock_url, wflo_count):
    client = oa(mock_url)
    r = client.responses.create(model="gpt-4o-mini", input="Say hello", instructions="Be brief.")
    expected = wflo_count("gpt-4o-mini", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}], chat=True)
    assert r.usage.input_tokens == expected
    assert r.usage.output_tokens == wflo_count("gpt-4o-mini", r.output_text)
    events = list(client.responses.create(model="gpt-4o-mini", input="Say hello", instructions="Be brief.", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    done = events[-1].response
    assert done.usage.model_dump() == r.usage.model_dump()
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == r.output_text


def test_anthropic_messages_with_cache(mock_url, wflo_count):
    client = an(mock_url, "cached=4,cache_write=3,cache_write_1h=2")
    r = client.messages.create(model="claude-sonnet-4-6", max_tokens=200, system="You are terse.",
                               messages=[{"role": "user", "content": "Name three tokenizers."}])
    total = wflo_count("claude-sonnet-4-6", [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name three tokenizers."}], chat=True)
    u = r.usage
    assert u.cache_read_input_tokens == 4
    assert u.cache_creation_input_tokens == 5
    assert u.cache_creation.ephemeral_5m_input_tokens == 3
    assert u.cache_creation.ephemeral_1h_input_tokens == 2
    assert u.input_tokens + 4 + 5 == total
    assert u.output_tokens == wflo_count("claude-sonnet-4-6", r.content[0].text)
    assert r.stop_reason == "end_turn"


def test_anthropic_stream_helper_matches_the_plain_answer(mock_url):
    client = an(mock_url, "reasoning=6")
    kwargs = dict(model="claude-sonnet-4-6", max_tokens=300, messages=[{"role": "user", "content": "Hi"}])
    plain = client.messages.create(**kwargs)
    with client.messages.stream(**kwargs) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert plain.content[0].type == "thinking"
    assert text == plain.content[1].text


def test_errors_are_the_clients_typed_errors(mock_url):
    with pytest.raises(openai.RateLimitError):
        oa(mock_url, "status=429").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(openai.InternalServerError):
        oa(mock_url, "status=500").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(anthropic.RateLimitError):
        an(mock_url, "status=429").messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError):
        an(mock_url).messages.create(model="claude-sonnet-4-6", max_tokens=10, messages="not a list")


def test_client_retries_reach_the_mock(mock_url):
    before = stats(mock_url).get("status.500", 0)
    client = openai.OpenAI(base_url=f"{mock_url}/mock/status=500/v1", api_key="mock", max_retries=2)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert stats(mock_url)["status.500"] - before == 3


def test_a_stream_cut_before_its_usage(mock_url):
    chunks = list(oa(mock_url, "cut=usage").chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    assert chunks and all(c.usage is None for c in chunks)
    with an(mock_url, "cut=usage").messages.stream(model="claude-sonnet-4-6", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]) as s:
        events = [e.type for e in s]
    assert "message_delta" not in events and "message_start" in events


def test_a_reset_connection_mid_stream_is_an_error(mock_url):
    with pytest.raises((openai.APIConnectionError, Exception)) as info:
        for _ in oa(mock_url, "reset=2").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            pass
    assert info.value is not None


def test_models_and_stats(mock_url):
    ids = [m.id for m in oa(mock_url).models.list()]
    assert "gpt-4o-mini" in ids
    s = stats(mock_url)
    assert s["total"] >= s["chat.completions"] >= 1
    assert s["messages"] >= 1


def test_fail_n_then_recover_with_the_sdks_own_retries(mock_url):
    # The provider fails twice, then answers: openai's own retries (max_retries=2) see 3 requests.
    client = openai.OpenAI(
        base_url=f"{mock_url}/mock/status=429,fail=2,key=sdk-retry,retry_after_ms=5/v1",
        api_key="mock", max_retries=2)
    before = stats(mock_url).get("status.429", 0)
    r = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert r.usage.completion_tokens > 0
    assert stats(mock_url)["status.429"] - before == 2
    # The same directives again: the count is spent, so it answers at once.
    assert oa(mock_url, "status=429,fail=2,key=sdk-retry,retry_after_ms=5").chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES).usage is not None


def test_retry_headers_are_the_directives(mock_url):
    raw = oa(mock_url, "status=429,fail=1,key=hdr,retry_after=7").chat.completions.with_raw_response
    with pytest.raises(openai.RateLimitError) as info:
        raw.create(model="gpt-4o-mini", messages=MESSAGES)
    h = info.value.response.headers
    assert h["retry-after"] == "7" and "retry-after-ms" not in h
    with pytest.raises(anthropic.InternalServerError) as info:
        an(mock_url, "status=500,fail=1,key=hdr-a,retry_after_ms=250").messages.create(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.response.headers["retry-after-ms"] == "250"


def test_fail_rate_is_evenly_spread(mock_url):
    client = oa(mock_url, "fail_rate=25,key=rate")
    outcomes = []
    for _ in range(8):
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            outcomes.append("ok")
        except openai.InternalServerError:
            outcomes.append("500")
    assert outcomes == ["ok", "ok", "ok", "500"] * 2
