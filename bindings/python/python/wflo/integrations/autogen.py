"""AutoGen (``autogen-agentchat`` / ``autogen-ext``): budget every call an agent team makes.

AutoGen agents talk to models only through a ``ChatCompletionClient``, so that is where wflo
sits: :class:`WfloChatCompletionClient` wraps the client the agents are given, reserves each
call's worst case BEFORE ``create`` / ``create_stream`` reaches the inner client (a refusal
raises :class:`~wflo.BudgetExceededError` and no request is sent) and settles it from the
``CreateResult.usage`` that comes back.

    client = WfloChatCompletionClient(OpenAIChatCompletionClient(model="gpt-4o-mini"))
    team = RoundRobinGroupChat([AssistantAgent("a", model_client=client), ...])
    result = await workflow.execute(team, "the task")

Each call is charged to the agent making it (its share of ``per_agent_budgets``): AutoGen does
not tell a model client which agent calls it, so the agent is, in order, the wrapper's own
``agent=`` (one client per agent), else — in a team — the participant whose message handler
runs (the AutoGen runtime's ``MessageHandlerContext``: the team registers each participant
under its name followed by ``_`` and the team's id), else the agent ``execute`` runs by itself.

Teams run agents on their own runtime and turn an agent's exception into a ``RuntimeError``
holding only its text; :data:`RUNNER` (what ``execute`` uses for a team or agent) gives the
caller the wflo error itself.
"""
from __future__ import annotations

import contextvars
import uuid
from contextlib import contextmanager
from typing import Any, AsyncGenerator, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from autogen_core import Component, ComponentModel, Image, MessageHandlerContext
from autogen_core.models import (
    AssistantMessage,
    ChatCompletionClient,
    CreateResult,
    FunctionExecutionResultMessage,
    LLMMessage,
    ModelCapabilities,  # type: ignore[attr-defined]
    ModelInfo,
    RequestUsage,
    SystemMessage,
)
from pydantic import BaseModel

from ..context import current_frame, use
from ..errors import WfloError, invalid
from ..instrument.common import request_json
from ..reservation import RequestReserved, Reservation
from ..workflow import agent_of
from . import Runner, _run_coroutine

# Request fields a client's config sets for every call that the engine reads.
_CREATE_ARGS = ("max_tokens", "max_completion_tokens", "n", "response_format")


class _Run:
    """One ``execute`` of a team or agent: the wflo error that refused one of its calls, and
    the agent's name when ``execute`` runs a single agent."""

    __slots__ = ("error", "agent")

    def __init__(self, agent: Optional[str] = None) -> None:
        self.error: Optional[BaseException] = None
        self.agent = agent


# The run in progress. Agent handlers run in tasks the team's runtime starts inside ``run``,
# so they inherit it (and the workflow's frame) from the caller's context.
_run: contextvars.ContextVar[Optional[_Run]] = contextvars.ContextVar("wflo_autogen_run", default=None)


class WfloChatCompletionClientConfig(BaseModel):
    inner: ComponentModel
    model: Optional[str] = None
    provider: Optional[str] = None
    agent: Optional[str] = None


class WfloChatCompletionClient(ChatCompletionClient, Component[WfloChatCompletionClientConfig]):
    """A ``ChatCompletionClient`` that budgets every call of ``inner`` in the running workflow.

    ``model``: the name wflo prices the calls under (default: the inner client's configured
    model). ``provider``: optional, helps resolve an ambiguous model name. ``agent``: the
    agent's name its calls are charged to (default: the calling agent, when AutoGen's runtime
    tells; see the module's notes). Outside a workflow
    calls pass straight through. Everything else (usage counters, token counting, model info,
    ``close``) is the inner client's.
    """

    component_type = "model"
    component_config_schema = WfloChatCompletionClientConfig
    component_provider_override = "wflo.integrations.autogen.WfloChatCompletionClient"

    def __init__(self, inner: ChatCompletionClient, *, model: Optional[str] = None,
                 provider: Optional[str] = None, agent: Optional[str] = None) -> None:
        if not isinstance(inner, ChatCompletionClient):
            raise invalid("inner must be an autogen_core.models.ChatCompletionClient")
        if agent is not None and (not isinstance(agent, str) or not agent):
            raise invalid("agent must be a non-empty string (the agent's name) or None")
        self._agent = agent
        config = _config_of(inner)
        self._inner = inner
        self._model = model or config.get("model")
        self._provider = provider
        # What the inner client puts in every request that the engine reads (the output limit).
        self._create_args = {k: config[k] for k in _CREATE_ARGS if config.get(k) is not None}
        self._options: Dict[str, Any] = {"provider": provider} if provider else {}
        if isinstance(config.get("base_url"), str) and config["base_url"]:
            self._options["base_url"] = config["base_url"]  # names the provider (api.x.ai: xAI)
        # OpenAI-family clients send a stream's usage only when asked; wflo asks unless the
        # client or the caller already chose.
        self._ask_stream_usage = _is_openai_client(inner) and "stream_options" not in config

    @property
    def inner(self) -> ChatCompletionClient:
        return self._inner

    # -- the metered calls -----------------------------------------------------------------

    async def create(self, messages: Sequence[LLMMessage], *, tools: Sequence[Any] = [],
                     tool_choice: Any = "auto", json_output: Optional[Any] = None,
                     extra_create_args: Mapping[str, Any] = {}, cancellation_token: Optional[Any] = None,
                     **kwargs: Any) -> CreateResult:
        reservation = await self._reserve(messages, tools, json_output, extra_create_args, stream=False)
        args = dict(tools=tools, tool_choice=tool_choice, json_output=json_output,
                    extra_create_args=extra_create_args, cancellation_token=cancellation_token, **kwargs)
        if reservation is None:
            return await self._inner.create(messages, **args)
        with reservation:  # an error or a cancellation releases it
            with _unmetered():
                result = await self._inner.create(messages, **args)
            _settle(reservation, result)
        return result

    async def create_stream(self, messages: Sequence[LLMMessage], *, tools: Sequence[Any] = [],
                            tool_choice: Any = "auto", json_output: Optional[Any] = None,
                            extra_create_args: Mapping[str, Any] = {}, cancellation_token: Optional[Any] = None,
                            **kwargs: Any) -> AsyncGenerator[Union[str, CreateResult], None]:
        # The reservation is taken when the stream is first iterated: that is when the inner
        # client sends the request.
        made = await self._reserve_request(messages, tools, json_output, extra_create_args, stream=True)
        reservation = made.reservation if made is not None else None
        if (made is not None and self._ask_stream_usage and "stream_options" not in extra_create_args
                and "include_usage" not in kwargs and "stream_options" in made.body):
            # What the engine has an OpenAI chat stream send: its usage at the end.
            extra_create_args = {**extra_create_args, "stream_options": made.body["stream_options"]}
        chunks = self._inner.create_stream(messages, tools=tools, tool_choice=tool_choice, json_output=json_output,
                                           extra_create_args=extra_create_args,
                                           cancellation_token=cancellation_token, **kwargs)
        if reservation is None:
            async for item in chunks:
                yield item
            return
        text: List[str] = []
        status = "aborted"  # the consumer stopped early (or was cancelled)
        try:
            while True:
                try:
                    with _unmetered():
                        item = await chunks.__anext__()
                except StopAsyncIteration:
                    status = "ok"
                    break
                if isinstance(item, CreateResult):
                    _settle(reservation, item)
                elif isinstance(item, str):
                    text.append(item)
                yield item
        except Exception:
            status = "error"
            raise
        finally:
            if not reservation.ended:
                reservation.settle_text("".join(text), status)
            await chunks.aclose()

    async def _reserve(self, messages: Sequence[LLMMessage], tools: Sequence[Any], json_output: Any,
                       extra_create_args: Mapping[str, Any], stream: bool) -> Optional[Reservation]:
        made = await self._reserve_request(messages, tools, json_output, extra_create_args, stream)
        return made.reservation if made is not None else None

    async def _reserve_request(self, messages: Sequence[LLMMessage], tools: Sequence[Any], json_output: Any,
                               extra_create_args: Mapping[str, Any], stream: bool) -> Optional[RequestReserved]:
        """The call handed to the engine as the OpenAI chat request it stands for, reserved."""
        frame = current_frame()
        if frame is None:
            return None
        try:
            if not self._model:
                raise invalid("WfloChatCompletionClient cannot tell the inner client's model: pass model=")
            request: Dict[str, Any] = {**self._create_args, **extra_create_args, "model": self._model,
                                       "messages": _chat_messages(messages)}
            if tools:
                request["tools"] = [{"type": "function", "function": t if isinstance(t, dict) else t.schema}
                                    for t in tools]
            if json_output is True:
                request["response_format"] = {"type": "json_object"}
            elif isinstance(json_output, type):  # a pydantic model: sent as its JSON schema
                request["response_format"] = json_output
            if stream:
                request["stream"] = True
            # The inner client sends its own request: the body the engine would send is unused.
            agent = agent_of(self._agent or _calling_agent())
            return await frame.workflow.reserve_request_async("openai_chat", request_json(request),
                                                              **self._options, agent=agent)
        except WfloError as e:
            run = _run.get()
            if run is not None and run.error is None:
                run.error = e
            raise

    # -- everything else is the inner client's ---------------------------------------------

    async def close(self) -> None:
        await self._inner.close()

    def actual_usage(self) -> RequestUsage:
        return self._inner.actual_usage()

    def total_usage(self) -> RequestUsage:
        return self._inner.total_usage()

    def count_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Any] = []) -> int:
        return self._inner.count_tokens(messages, tools=tools)

    def remaining_tokens(self, messages: Sequence[LLMMessage], *, tools: Sequence[Any] = []) -> int:
        return self._inner.remaining_tokens(messages, tools=tools)

    @property
    def capabilities(self) -> ModelCapabilities:  # type: ignore[override]
        return self._inner.capabilities

    @property
    def model_info(self) -> ModelInfo:
        return self._inner.model_info

    def _to_config(self) -> WfloChatCompletionClientConfig:
        return WfloChatCompletionClientConfig(inner=self._inner.dump_component(), model=self._model,
                                              provider=self._provider, agent=self._agent)

    @classmethod
    def _from_config(cls, config: WfloChatCompletionClientConfig) -> "WfloChatCompletionClient":
        return cls(ChatCompletionClient.load_component(config.inner), model=config.model, provider=config.provider,
                   agent=config.agent)


def _calling_agent() -> Optional[str]:
    """The name of the agent whose message handler runs (in a team), else of the agent
    ``execute`` runs by itself, else None."""
    try:
        agent_type = MessageHandlerContext.agent_id().type
    except RuntimeError:  # not in a message handler
        agent_type = None
    if agent_type:
        # A team registers participant NAME as the agent type "NAME_<team id>" (a uuid4, which
        # holds no "_"); another runtime's agent type is its own name.
        name, _, team = agent_type.rpartition("_")
        return name if name and _is_uuid(team) else agent_type
    run = _run.get()
    return run.agent if run is not None else None


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


@contextmanager
def _unmetered() -> Iterator[None]:
    """Hides the workflow from the code under the inner client for one call: this wrapper
    already budgets the call, so an instrumented SDK underneath must not budget it twice."""
    with use(None):  # type: ignore[arg-type]
        yield


def _settle(reservation: Reservation, result: CreateResult) -> None:
    """Books a CreateResult, handed to the engine as an OpenAI chat result: its usage (prompt
    and completion tokens are all AutoGen keeps), or — none reported (a stream without usage)
    — its generated text, tool calls and thought estimated by the engine."""
    if result.cached:
        reservation.release("aborted", "served from the client's cache: no request was made")
        return
    content = result.content
    message: Dict[str, Any] = {"role": "assistant", "content": content if isinstance(content, str) else None}
    if not isinstance(content, str):
        message["tool_calls"] = [{"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                 for c in content]
    if getattr(result, "thought", None):
        message["reasoning_content"] = result.thought
    body: Dict[str, Any] = {"choices": [{"index": 0, "message": message}]}
    usage = result.usage
    if usage is not None:
        body["usage"] = {"prompt_tokens": int(usage.prompt_tokens), "completion_tokens": int(usage.completion_tokens)}
    reservation.settle_result("openai_chat", body)


def _chat_messages(messages: Sequence[LLMMessage]) -> List[Dict[str, Any]]:
    """AutoGen's messages as the OpenAI chat messages they stand for (images as image parts)."""
    chat: List[Dict[str, Any]] = []
    for m in messages:
        content = m.content
        if isinstance(m, SystemMessage):
            chat.append({"role": "system", "content": content})
        elif isinstance(m, FunctionExecutionResultMessage):
            chat.extend({"role": "tool", "content": r.content, "tool_call_id": r.call_id} for r in content)
        elif isinstance(m, AssistantMessage):
            if isinstance(content, str):
                chat.append({"role": "assistant", "content": content})
            else:  # the function calls it made (and the thought that came with them)
                chat.append({"role": "assistant", "content": m.thought,
                             "tool_calls": [{"id": c.id, "type": "function",
                                             "function": {"name": c.name, "arguments": c.arguments}}
                                            for c in content]})
        elif isinstance(content, str):
            chat.append({"role": "user", "content": content})
        else:
            chat.append({"role": "user", "content": [
                part.to_openai_format() if isinstance(part, Image) else {"type": "text", "text": str(part)}
                for part in content]})
    return chat


def _config_of(client: ChatCompletionClient) -> Dict[str, Any]:
    """The inner client's component config (model, max_tokens…), or {} when it has none."""
    try:
        config = client.dump_component().config
    except Exception:  # a client that cannot be serialised: the caller passes model=
        return {}
    return dict(config) if isinstance(config, Mapping) else {}


def _is_openai_client(client: ChatCompletionClient) -> bool:
    try:
        from autogen_ext.models.openai import BaseOpenAIChatCompletionClient
    except ImportError:
        return False
    return isinstance(client, BaseOpenAIChatCompletionClient)


class AutoGenRunner(Runner):
    """Runs an AutoGen team or agent (an ``autogen_agentchat.base.TaskRunner``):
    ``await target.run(task=inputs, **config)``.

    A wflo error that refused a call inside the team reaches the caller as itself (teams would
    otherwise raise a ``RuntimeError`` holding its text), even if the team carried on.
    """

    name = "autogen"

    async def run_async(self, workflow: Any, target: Any, inputs: Any, config: Optional[dict]) -> Any:
        from autogen_agentchat.base import ChatAgent

        run = _Run(target.name if isinstance(target, ChatAgent) else None)
        token = _run.set(run)
        try:
            result = await target.run(task=inputs, **(config or {}))
        except BaseException as e:
            if run.error is not None and run.error is not e:
                raise run.error from e
            raise
        finally:
            _run.reset(token)
        if run.error is not None:
            raise run.error
        return result

    def run_sync(self, workflow: Any, target: Any, inputs: Any, config: Optional[dict]) -> Any:
        return _run_coroutine(self.run_async(workflow, target, inputs, config))


RUNNER = AutoGenRunner()
