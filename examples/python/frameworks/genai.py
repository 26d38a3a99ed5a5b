"""The Google Gen AI SDK (google-genai) under a wflo budget: after ``wflo.instrument()``, every
``generate_content`` / ``generate_content_stream`` request made inside a workflow is reserved
before it is sent (the prompt counted, ``max_output_tokens`` of output, at the price tier the
prompt falls in) and settled from the ``usage_metadata`` Gemini returns — cached content and
thoughts included. A prompt over gemini-2.5-pro's 200k-token tier is priced at the tier's
rates, so a budget that base prices would fit refuses it before anything is sent.

bindings/python/tests/test_genai.py runs this file against `wflo mock-llm` and checks what it
prints; to run it yourself, start `wflo mock-llm --port 8787`, then
    WFLO_GEMINI_BASE_URL=http://127.0.0.1:8787 python examples/python/frameworks/genai.py
"""
import os

# tour:start
from google import genai
from google.genai import types

import wflo


def main(base_url: str) -> None:
    wflo.instrument()  # meters google-genai (and openai, anthropic) calls made inside workflows
    client = genai.Client(api_key="...", http_options=types.HttpOptions(base_url=base_url))
    workflow = wflo.WfloWorkflow("gemini-desk", budget_usd=0.50, engine=wflo.Engine.open("memory://"))
    brief = types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=200)
    report = "All work and no play makes a long report. " * 21_000  # ~210k tokens

    def desk(_):
        client.models.generate_content(model="gemini-2.5-flash", contents="Name a budget rule.", config=brief)
        for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="And another.",
                                                           config=brief):
            pass  # settled once, from the last chunk's usage_metadata
        try:  # over 200k prompt tokens: every token at the long-context tier's price
            client.models.generate_content(model="gemini-2.5-pro", contents=report, config=brief)
        except wflo.BudgetExceededError as e:
            print(f"long report refused: needs up to ${e.requested_usd:.2f}")

    workflow.execute_sync(desk)
    for call in workflow.calls():
        print(call["requested_model"], call["status"], f"${call['cost_nanos'] / 1e9:.8f}")
# tour:end


if __name__ == "__main__":
    main(os.environ["WFLO_GEMINI_BASE_URL"])
