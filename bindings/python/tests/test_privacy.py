"""Prompts, completions and API keys never reach the store or the logs.

Real openai and anthropic clients, instrumented, send planted secrets (API keys, a prompt, a
system prompt) to `wflo mock-llm`; plain, streamed and failing calls are recorded and a
checkpoint is saved, with the engine's events routed to the ``wflo`` logger at their most
verbose. Then every file the store wrote (database, WAL, shared memory) and every log record,
log line and byte printed is searched for the secrets and for the completions the mock sent
back. The same files and records must hold what wflo does record (the model, the workflow's
name, a cost; a refusal's record), so the search is known to look in the right place.
"""
from __future__ import annotations

import logging

import anthropic
import openai
import pytest

import wflo

OPENAI_KEY = "sk-proj-PLANTEDopenaiKEY0b7e5c21d9"
ANTHROPIC_KEY = "sk-ant-api03-PLANTEDanthropicKEY44f0a2"
PROMPT = "PLANTED-PROMPT the launch code is 7c2e91ab"
SYSTEM = "PLANTED-SYSTEM you are agent zx81q"


@pytest.fixture(autouse=True)
def instrumented():
    wflo.instrument()
    yield
    wflo.uninstrument()


@pytest.fixture
def events_at_debug():
    """The engine's events on the ``wflo`` logger, every one of them, for the test."""
    wflo.log_events("debug")
    yield
    wflo.log_events(None)


def everything_logged(caplog) -> str:
    """Every captured record as a handler could print it: message, arguments, extras, traceback."""
    return "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in caplog.records) + caplog.text


def test_no_prompt_completion_or_key_is_written_to_the_store_or_the_logs(mock, tmp_path, caplog, capfd,
                                                                         events_at_debug):
    # wflo's loggers at their most verbose (the SDKs' own DEBUG logs print request bodies by
    # design: that is theirs to configure), and everything printed to stdout and stderr.
    caplog.set_level(logging.DEBUG, logger="wflo")
    engine = wflo.Engine.open(str(tmp_path / "wflo.db"))
    oa = openai.OpenAI(base_url=mock.openai_base("reply=40"), api_key=OPENAI_KEY, max_retries=0)
    failing = openai.OpenAI(base_url=mock.openai_base("status=500"), api_key=OPENAI_KEY, max_retries=0)
    an = anthropic.Anthropic(base_url=mock.anthropic_base("reply=40"), api_key=ANTHROPIC_KEY, max_retries=0)
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]
    completions = []

    def run(_):
        r = oa.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=100)
        completions.append(r.choices[0].message.content)
        streamed = oa.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=100, stream=True,
                                              stream_options={"include_usage": True})
        completions.append("".join(c.choices[0].delta.content or "" for c in streamed if c.choices))
        m = an.messages.create(model="claude-haiku-4-5", system=SYSTEM, max_tokens=100,
                               messages=[{"role": "user", "content": PROMPT}])
        completions.append(m.content[0].text)
        with pytest.raises(openai.InternalServerError):
            failing.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=100)

    wf = wflo.WfloWorkflow("privacy-check", budget_usd="1.00", engine=engine)
    wf.execute_sync(run)
    wf.checkpoint_sync("after-calls", {"calls": 4})
    calls = wf.calls()
    engine.close()

    assert [c["status"] for c in calls] == ["ok", "ok", "ok", "error"]
    assert all(len(c) >= 40 for c in completions), completions  # long enough not to match by chance
    stored = b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()) if p.name.startswith("wflo.db"))
    # What wflo does keep is there: the search reads the store's real bytes.
    for kept in (b"privacy-check", b"gpt-4o-mini", b"claude-haiku-4-5", b"after-calls"):
        assert kept in stored, kept
    printed = capfd.readouterr()
    # The engine's events were routed: its settlements are among the records searched.
    assert any(r.name == "wflo" and r.getMessage().startswith("settled:") for r in caplog.records)
    logged = everything_logged(caplog) + printed.out + printed.err
    for secret in (OPENAI_KEY, ANTHROPIC_KEY, PROMPT, SYSTEM, "7c2e91ab", "zx81q", *completions):
        assert secret.encode() not in stored, f"{secret!r} was written to the store"
        assert secret not in logged, f"{secret!r} was logged"


SECRET_KEY = "sk-SECRET-PLANTED-apikey-5e0c77"
SECRET_PROMPT = "sk-SECRET-PLANTED in the prompt: the vault code is 31337"


def test_a_refusal_is_logged_at_info_and_no_record_holds_the_prompt_or_the_key(mock, engine, caplog,
                                                                               events_at_debug):
    # wflo's logger at its most verbose (the SDKs' own DEBUG logs print request bodies by design);
    # every record captured is searched.
    caplog.set_level(logging.DEBUG, logger="wflo")
    client = openai.OpenAI(base_url=mock.openai_base("reply=40"), api_key=SECRET_KEY, max_retries=0)
    wf = wflo.WfloWorkflow("refusal-logged", budget_usd="0.0001", engine=engine)
    before = mock.requests()

    def run(_):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": SECRET_PROMPT}],
                                       max_tokens=1000)

    with pytest.raises(wflo.BudgetExceededError):
        wf.execute_sync(run)
    assert mock.requests() == before  # refused before sending
    refused = [r for r in caplog.records if r.name == "wflo" and r.getMessage().startswith("refused:")]
    assert [r.levelno for r in refused] == [logging.INFO], caplog.text
    assert wf.execution_id in refused[0].getMessage() and "gpt-4o" in refused[0].getMessage()
    logged = everything_logged(caplog)
    for secret in (SECRET_KEY, SECRET_PROMPT, "sk-SECRET-PLANTED", "31337"):
        assert secret not in logged, f"{secret!r} was logged"
