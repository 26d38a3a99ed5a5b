"""The mock's Gemini routes against the REAL `google-genai` package and on the wire as Google
documents the API (https://ai.google.dev/api/generate-content, /api/tokens):

* `POST /v1beta/models/{model}:generateContent` answers a `GenerateContentResponse`
  (`candidates[].content.parts`, `finishReason`, `usageMetadata` with `promptTokenCount`,
  `candidatesTokenCount`, `cachedContentTokenCount`, `thoughtsTokenCount`, `totalTokenCount`);
* `:streamGenerateContent?alt=sse` answers server-sent events, each `data: <GenerateContentResponse>`,
  the usage in the last one only;
* `:countTokens` answers `{"totalTokens": n}`;
* errors are `{"error": {"code", "message", "status"}}`.

The usage the SDK reports must equal what wflo counts (`wflo tokens`).
"""
import json
import subprocess
import urllib.error
import urllib.request

import pytest
from google import genai
from google.genai import errors, types

from conftest import wflo_bin

MODEL = "gemini-2.5-flash"
SYSTEM = "You are terse."
QUESTION = "Name three byte-pair encoding tokenizers."
# The prompt as wflo counts it: the system instruction and the user turn, as chat messages.
MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]


def gm(url, directives=None, **http):
    """A google-genai client on the mock (the SDK adds `/v1beta/models/...` to the base URL)."""
    base = f"{url}/mock/{directives}" if directives else url
    return genai.Client(api_key="mock", http_options=types.HttpOptions(base_url=base, **http))


def config(**kw):
    return types.GenerateContentConfig(system_instruction=SYSTEM, **kw)


def stats(url):
    with urllib.request.urlopen(f"{url}/__mock/stats") as r:
        return json.load(r)


def post(url, path, body, directives=None):
    """(status, content type, body text) of a raw POST, as any HTTP client sees it."""
    headers = {"content-type": "application/json", "x-goog-api-key": "mock"}
    if directives:
        headers["x-mock"] = directives
    req = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("content-type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("content-type"), e.read().decode()


REST_BODY = {
    "systemInstruction": {"parts": [{"text": SYSTEM}]},
    "contents": [{"role": "user", "parts": [{"text": QUESTION}]}],
    "generationConfig": {"maxOutputTokens": 200},
}


def sse_events(text):
    """The `data:` payloads of a server-sent event stream (events end with a blank line)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [l for l in block.split("\n") if l]
        if not lines:
            continue
        assert all(l.startswith("data: ") for l in lines), block
        events.append(json.loads("".join(l[len("data: "):] for l in lines)))
    return events


# -- generateContent ---------------------------------------------------------------------------

def test_generate_content_usage_is_wflos_count(mock_url, wflo_count):
    before = stats(mock_url).get("generateContent", 0)
    client = gm(mock_url)  # held: a Client closes its connections when collected
    r = client.models.generate_content(model=MODEL, contents=QUESTION, config=config())
    u = r.usage_metadata
    assert u.prompt_token_count == wflo_count(MODEL, MESSAGES, chat=True)
    assert u.candidates_token_count == wflo_count(MODEL, r.text)
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count
    assert (u.cached_content_token_count or 0) == 0 and (u.thoughts_token_count or 0) == 0
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert r.candidates[0].content.role == "model"
    assert r.model_version == MODEL and r.response_id
    assert stats(mock_url)["generateContent"] == before + 1


def test_generate_content_on_the_wire(mock_url, wflo_count):
    status, kind, text = post(mock_url, f"/v1beta/models/{MODEL}:generateContent", REST_BODY)
    assert status == 200 and kind.startswith("application/json")
    body = json.loads(text)
    (candidate,) = body["candidates"]
    assert candidate["finishReason"] == "STOP" and candidate["index"] == 0
    assert candidate["content"]["role"] == "model"
    reply = "".join(p["text"] for p in candidate["content"]["parts"])
    u = body["usageMetadata"]
    assert u["promptTokenCount"] == wflo_count(MODEL, MESSAGES, chat=True)
    assert u["candidatesTokenCount"] == wflo_count(MODEL, reply)
    assert u["totalTokenCount"] == u["promptTokenCount"] + u["candidatesTokenCount"]
    assert u["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": u["promptTokenCount"]}]
    # The stable API version answers the same.
    _, _, again = post(mock_url, f"/v1/models/{MODEL}:generateContent", REST_BODY)
    assert json.loads(again)["usageMetadata"] == u


def test_cached_content_and_thoughts(mock_url, wflo_count):
    client = gm(mock_url, "cached=4,reasoning=6,reply=10")
    r = client.models.generate_content(model=MODEL, contents=QUESTION, config=config())
    u = r.usage_metadata
    # promptTokenCount includes the cached tokens; thoughts are apart from the candidates.
    assert u.prompt_token_count == wflo_count(MODEL, MESSAGES, chat=True)
    assert u.cached_content_token_count == 4
    assert u.thoughts_token_count == 6
    assert u.candidates_token_count == 10 == wflo_count(MODEL, r.text)
    assert u.total_token_count == u.prompt_token_count + 10 + 6
    thought, answer = r.candidates[0].content.parts
    assert thought.thought is True and thought.text and not answer.thought
    assert r.text == answer.text  # the SDK leaves thoughts out of .text


def test_max_output_tokens_truncates(mock_url):
    client = gm(mock_url, "reply=50")
    r = client.models.generate_content(model=MODEL, contents=QUESTION, config=config(max_output_tokens=8))
    assert r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert r.usage_metadata.candidates_token_count <= 8


def test_a_tool_call_is_a_function_call_part(mock_url):
    client = gm(mock_url, "tool=lookup")
    r = client.models.generate_content(model=MODEL, contents=QUESTION, config=config())
    (call,) = r.function_calls
    assert call.name == "lookup" and isinstance(call.args["query"], str)


def test_a_request_without_contents_is_invalid(mock_url):
    status, _, text = post(mock_url, f"/v1beta/models/{MODEL}:generateContent", {"generationConfig": {}})
    assert status == 400
    assert json.loads(text)["error"]["status"] == "INVALID_ARGUMENT"


# -- streamGenerateContent?alt=sse -------------------------------------------------------------

def test_stream_matches_the_plain_answer(mock_url):
    client = gm(mock_url, "reasoning=3,reply=15")
    before = stats(mock_url).get("generateContent.stream", 0)
    plain = client.models.generate_content(model=MODEL, contents=QUESTION, config=config())
    chunks = list(client.models.generate_content_stream(model=MODEL, contents=QUESTION, config=config()))
    assert len(chunks) > 2
    assert all(c.usage_metadata is None for c in chunks[:-1])
    assert chunks[-1].usage_metadata.model_dump() == plain.usage_metadata.model_dump()
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert "".join(c.text or "" for c in chunks) == plain.text
    assert chunks[0].candidates[0].content.parts[0].thought is True
    assert stats(mock_url)["generateContent.stream"] == before + 1


def test_stream_on_the_wire(mock_url):
    _, _, plain = post(mock_url, f"/v1beta/models/{MODEL}:generateContent", REST_BODY, "reply=12")
    status, kind, text = post(mock_url, f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", REST_BODY,
                              "reply=12")
    assert status == 200 and kind.startswith("text/event-stream")
    events = sse_events(text)
    assert len(events) > 2
    *rest, last = events
    assert all("usageMetadata" not in e and "finishReason" not in e["candidates"][0] for e in rest)
    assert last["usageMetadata"] == json.loads(plain)["usageMetadata"]
    assert last["candidates"][0]["finishReason"] == "STOP"
    streamed = "".join(p.get("text", "") for e in events for p in e["candidates"][0]["content"]["parts"])
    assert streamed == json.loads(plain)["candidates"][0]["content"]["parts"][0]["text"]


def test_a_stream_cut_before_its_usage(mock_url):
    client = gm(mock_url, "cut=usage")
    chunks = list(client.models.generate_content_stream(model=MODEL, contents=QUESTION))
    assert chunks and "".join(c.text or "" for c in chunks)
    assert all(c.usage_metadata is None for c in chunks)
    assert all(c.candidates[0].finish_reason is None for c in chunks)


# -- countTokens --------------------------------------------------------------------------------

def test_count_tokens_is_the_prompt_of_generate_content(mock_url, wflo_count):
    client = gm(mock_url)
    before = stats(mock_url).get("countTokens", 0)
    counted = client.models.count_tokens(model=MODEL, contents=QUESTION)
    assert counted.total_tokens == wflo_count(MODEL, [{"role": "user", "content": QUESTION}], chat=True)
    r = client.models.generate_content(model=MODEL, contents=QUESTION)
    assert counted.total_tokens == r.usage_metadata.prompt_token_count
    assert stats(mock_url)["countTokens"] == before + 1


def test_count_tokens_on_the_wire(mock_url, wflo_count):
    status, _, text = post(mock_url, f"/v1beta/models/{MODEL}:countTokens",
                           {"contents": REST_BODY["contents"]})
    assert status == 200
    prompt = wflo_count(MODEL, [{"role": "user", "content": QUESTION}], chat=True)
    assert json.loads(text)["totalTokens"] == prompt
    # The documented alternative: a whole generateContentRequest, system instruction included.
    wrapped = {"generateContentRequest": {"model": f"models/{MODEL}", **REST_BODY}}
    _, _, text = post(mock_url, f"/v1beta/models/{MODEL}:countTokens", wrapped)
    assert json.loads(text)["totalTokens"] == wflo_count(MODEL, MESSAGES, chat=True)


# -- errors, retries ------------------------------------------------------------------------------

def test_errors_are_the_sdks_typed_errors(mock_url):
    limited, down = gm(mock_url, "status=429"), gm(mock_url, "status=503")
    with pytest.raises(errors.ClientError) as info:
        limited.models.generate_content(model=MODEL, contents=QUESTION)
    assert (info.value.code, info.value.status) == (429, "RESOURCE_EXHAUSTED")
    with pytest.raises(errors.ServerError) as info:
        list(down.models.generate_content_stream(model=MODEL, contents=QUESTION))
    assert (info.value.code, info.value.status) == (503, "UNAVAILABLE")
    status, _, text = post(mock_url, f"/v1beta/models/{MODEL}:countTokens", REST_BODY, "status=500")
    assert status == 500 and json.loads(text) == {
        "error": {"code": 500, "message": "mock 500 as requested", "status": "INTERNAL"}}


def test_the_sdks_own_retries_recover(mock_url):
    client = gm(mock_url, "status=503,fail=2,key=genai-retry",
                retry_options=types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.02, jitter=0))
    before = stats(mock_url).get("status.503", 0)
    r = client.models.generate_content(model=MODEL, contents=QUESTION)
    assert r.usage_metadata.candidates_token_count > 0
    assert stats(mock_url)["status.503"] - before == 2


# -- the banner -----------------------------------------------------------------------------------

def test_the_banner_gives_a_base_url_per_provider_and_the_gemini_one_works():
    proc = subprocess.Popen([wflo_bin(), "mock-llm", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline().rstrip("\n") for _ in range(4)]
        url = lines[0].rsplit(" ", 1)[1]
        assert lines[1:] == [f"  OpenAI base URL:    {url}/v1", f"  Anthropic base URL: {url}",
                             f"  Gemini base URL:    {url}"]
        base = lines[3].rsplit(" ", 1)[1]
        client = genai.Client(api_key="mock", http_options=types.HttpOptions(base_url=base))
        r = client.models.generate_content(model=MODEL, contents=QUESTION)
        assert r.usage_metadata.prompt_token_count > 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)
