// Types of the `wflo` package (hand-written; checked by `tsc --noEmit` on test/types.ts).

/** Token usage in wflo's six disjoint fields (input excludes cache reads/writes; output excludes reasoning). */
export interface Usage {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite5m?: number;
  cacheWrite1h?: number;
  reasoning?: number;
}

export interface TokenCount {
  tokens: number;
  encoding: 'o200k_base' | 'cl100k_base';
  /** True when the model's provider has no offline tokenizer and cl100k_base stood in. */
  estimated: boolean;
}

/** What a call will be, before it is made. */
export interface CallRequest {
  model: string;
  provider?: string | null;
  inputTokens?: number;
  inputEstimated?: boolean | null;
  /** The request's max_tokens; omitted: the model's maximum output. */
  maxOutputTokens?: number | null;
  cacheWrite?: '5m' | '1h' | null;
  stream?: boolean;
  /** Lower max_tokens to what the budget allows instead of refusing. */
  clampMaxTokens?: boolean;
}

/** What a settled call came to (nano-USD amounts). */
export interface Settled {
  seq: number;
  costNanos: number;
  reservedNanos: number;
  overrunNanos: number;
  estimated: boolean;
  usageMissing: boolean;
  usage: Required<Usage>;
}

/** The request formats the engine reads. */
export type RequestFormat = 'openai_chat' | 'openai_responses' | 'anthropic' | 'gemini' | 'langchain' | 'ai_sdk';

/** What the engine needs to know of a request besides its body. */
export interface RequestOptions {
  /** The client's base URL: names the provider (api.x.ai: xai). */
  baseUrl?: string | null;
  /** The provider, when no base URL says (the base URL wins). */
  provider?: string | null;
  /** The model, when the body does not name it (Gemini's URL, the AI SDK's modelId). */
  model?: string | null;
  /** Whether the call streams, when the body does not say. */
  stream?: boolean | null;
  /** Lower the output limit to what the budget allows instead of refusing. */
  clampMaxTokens?: boolean | null;
}

/** Dollars (a decimal string such as "2.50", or a number) or nano-USD (a bigint). */
export type UsdAmount = string | number | bigint;

/** The final status of an execution. */
export type ExecutionStatus = 'running' | 'completed' | 'failed' | 'budget_exceeded';

/** Budget held for one call: settle it with the provider's usage, or release it. */
export declare class Reservation {
  readonly amountNanos: number;
  /** The max_tokens to send (lower than asked under the clamp policy). */
  readonly maxOutputTokens: number;
  readonly ended: boolean;
  /** For a reservation made by `reserveRequest`: the request body to send; else null. */
  readonly requestBody: Record<string, unknown> | null;
  settle(usage: Usage): Settled;
  /** Settles from a provider's response body or usage JSON ("auto", "openai_chat", "openai_responses", "anthropic", "gemini", "langchain", "ai_sdk"). */
  settleJson(format: string, json: string): Settled;
  /** Settles from whatever the call returned (an object or its JSON text): its usage, else its generated text (every choice, tool calls) estimated by the engine, flagged. */
  /** `status`: how the call ended ("ok"; "error"/"aborted": what a call that failed midway had produced). */
  settleResult(format: RequestFormat | 'auto', result: unknown, status?: 'ok' | 'error' | 'aborted'): Settled;
  /** Settles a call without usage from the text it generated, estimated by the engine. */
  settleText(text: string, status?: 'ok' | 'error' | 'aborted'): Settled;
  settleStream(stream: NativeStream, status: 'ok' | 'error' | 'aborted'): Settled;
  release(status: 'error' | 'aborted', reason?: string | null): void;
}

/** Accumulates a streamed response's events ("openai_chat", "openai_responses", "anthropic", "gemini"). */
export declare class NativeStream {
  constructor(format: string);
  push(data: string): void;
  stateJson(): string;
}

export interface ModelCost {
  model: string;
  calls: number;
  costNanos: number;
  costUsd: number;
  usage: Required<Usage>;
}

export interface StepCost {
  step: string;
  calls: number;
  refused: number;
  costNanos: number;
  costUsd: number;
  budgetNanos: number | null;
}

/** Where an execution's money went. */
export interface CostBreakdown {
  executionId: string;
  name: string;
  status: ExecutionStatus;
  totalNanos: number;
  budgetNanos: number | null;
  reservedNanos: number;
  remainingNanos: number | null;
  overrunNanos: number;
  totalUsd: number;
  budgetUsd: number | null;
  reservedUsd: number;
  remainingUsd: number | null;
  calls: number;
  refusedCalls: number;
  estimatedCalls: number;
  usage: Required<Usage>;
  byModel: ModelCost[];
  byStep: StepCost[];
  /** The prices the engine uses: the built-in table's source and date, and files loaded over it. */
  priceTable: string;
}

/** What a price file changed in the table (`engine.loadPrices`). Prices in pico-USD per token. */
export interface PriceChanges {
  origin: string;
  format: 'wflo' | 'litellm';
  models: number;
  added: string[];
  changed: { name: string; fields: { field: string; before: unknown; after: unknown }[] }[];
  unchanged: number;
  skipped: { name: string; line: number; reason: string }[];
}

/** Where an engine's prices come from (`engine.priceTable()`). */
export interface PriceTable {
  source: string;
  version: string;
  retrieved: string;
  models: number;
  files: { origin: string; format: 'wflo' | 'litellm'; version?: string; retrieved?: string; models: number }[];
  overrides: number;
}

export interface CheckpointInfo {
  id: number;
  executionId: string;
  name: string;
  sequence: number;
  parentId: number | null;
  spentNanos: number;
  createdAtMs: number;
  superseded: boolean;
  stateBytes: number;
}

export interface CallRecord {
  executionId: string;
  seq: number;
  step: string;
  provider: string;
  requestedModel: string;
  model: string | null;
  usage: Required<Usage>;
  costNanos: number;
  reservedNanos: number;
  overrunNanos: number;
  estimated: boolean;
  usageMissing: boolean;
  stream: boolean;
  status: 'ok' | 'error' | 'refused' | 'aborted';
  error: string | null;
  latencyMs: number;
  startedAtMs: number;
  finishedAtMs: number;
}

/**
 * A step (or agent) scope of an execution (`workflow.scope(label)`): its calls count toward its
 * own budget, if any, and every budget above it. Labels are unique within an execution.
 */
export declare class Scope {
  readonly workflow: WfloWorkflow;
  /** The label its calls are recorded under. */
  readonly label: string;
  /** The scope `label` nested in this one, created on first use. */
  child(label: string, options?: { budgetUsd?: UsdAmount | null }): Promise<Scope>;
  /** Runs `fn(child)` in the child scope `label`. */
  step<O>(label: string, fn: (scope: Scope) => O | Promise<O>, options?: { budgetUsd?: UsdAmount | null }): Promise<O>;
  reserve(request: CallRequest): Promise<Reservation>;
  reserveRequest(format: RequestFormat, body: object | string, options?: RequestOptions | null): Promise<Reservation>;
  reserveSync(request: CallRequest): Reservation;
}

/**
 * A budget alert (`engine.onThreshold`): spend reached `percent` of a limited scope's budget
 * (`kind: "threshold"`), or reached the soft budget (`kind: "soft_budget"`, `percent` 100,
 * `limitNanos` the soft budget). Ids, names and amounts only.
 */
export interface BudgetAlert {
  executionId: string;
  /** The workflow's name. */
  workflow: string;
  /** "" for the execution's own budget, else the step scope's label. */
  scope: string;
  kind: 'threshold' | 'soft_budget';
  percent: number;
  limitNanos: number;
  limitUsd: number;
  spentNanos: number;
  spentUsd: number;
  /** When it fired, milliseconds since the Unix epoch. */
  atMs: number;
}

/** An engine: a store, prices, token counts. */
export declare class Engine {
  /** Opens an engine over a store URL (a SQLite path, "sqlite://…", "memory://", "postgres://…"); default: WFLO_DATABASE_URL, DATABASE_URL, the default SQLite file. */
  static open(url?: string | null): Promise<Engine>;
  close(): Promise<void>;
  setPrices(prices: string | { models: object[] }): void;
  /** Loads a price file (wflo's schema or LiteLLM's JSON) over the table; a bad file is refused whole. */
  loadPrices(path: string): PriceChanges;
  priceTable(): PriceTable;
  countTokens(model: string, text: string): TokenCount;
  countTokensAsync(model: string, text: string): Promise<TokenCount>;
  countChatTokens(model: string, messages: unknown[] | string): TokenCount;
  cost(model: string, usage: Usage): { nanos: number; usd: number };
  price(model: string): { resolved: string; resolution: string; price: Record<string, unknown> };
  /** Nano-USD from dollars given as a number (toward zero). */
  usdToNanos(usd: number): number;
  /** Nano-USD from a decimal dollar string ("2.50", "$0.000075"), never through a float. */
  parseUsd(text: string): number;
  /** A budget shared by every process using the store; `limitUsd` null or omitted: no limit. */
  defineSharedScope(name: string, options?: { limitUsd?: UsdAmount | null; period?: 'none' | 'day' | 'month' }): Promise<void>;
  sharedScope(name: string): Promise<{ name: string; key: string; period: string; limitNanos: number | null; spentNanos: number; reservedNanos: number; overrunNanos: number; refusing: boolean }>;
  execution(id: string): Promise<{ execution: object; breakdown: CostBreakdown; calls: CallRecord[]; checkpoints: CheckpointInfo[]; rollbacks: object[] }>;
  listExecutions(limit?: number): Promise<object[]>;
  /**
   * Calls `callback` with every budget alert of this engine's executions, once each, in the
   * order they fired, on the JavaScript thread after the call that crossed settled (all of an
   * execution's before its `end()` resolves). A callback that throws or rejects is reported as
   * a process warning. Returns the function that unsubscribes it; a subscription never keeps
   * the process alive.
   */
  onThreshold(callback: (alert: BudgetAlert) => void | Promise<void>): () => void;
  /** The engine's metrics in the Prometheus text exposition format (for a /metrics endpoint). */
  metricsText(): string;
}

export interface WorkflowOptions {
  name?: string;
  /** The budget: dollars (a decimal string or a number) or nano-USD (a bigint); null or omitted: no limit (0 is a budget of zero). */
  budgetUsd?: UsdAmount | null;
  engine?: Engine;
  /** Shared budgets (Engine.defineSharedScope) the workflow also draws from. */
  sharedScopes?: string[];
  /** The execution id to start with ("exec-" + 12 hex; default: a new one). */
  id?: string | null;
  /** Percents of each limited scope's budget at which `onThreshold` callbacks hear, once each (default [50, 80, 95]; [] for none). */
  alertThresholds?: number[] | null;
  /** A soft budget, dollars as `budgetUsd`: reaching it fires an alert (kind "soft_budget") and refuses nothing. */
  softBudgetUsd?: UsdAmount | null;
  /** The W3C traceparent whose trace the execution joins (default: the active OpenTelemetry span's, if any). */
  traceparent?: string | null;
}

/** A runnable the workflow can execute: a LangGraph compiled graph, a LangChain runnable. */
export interface Invokable<I, O> {
  invoke(input: I, config?: object): Promise<O>;
}

/** An execution with a budget: run code in it, checkpoint, roll back, read the breakdown. */
export declare class WfloWorkflow {
  constructor(options?: WorkflowOptions);
  static resume(executionId: string, options?: { engine?: Engine; sharedScopes?: string[] }): Promise<WfloWorkflow>;
  readonly name: string;
  /** "exec-" + 12 hex once started, else null. */
  readonly executionId: string | null;
  /** The id (32 hex) of the trace the execution belongs to once started, else null. */
  readonly traceId: string | null;
  engine(): Promise<Engine>;
  start(): Promise<this>;
  /** Runs one execution; `config` (e.g. `{configurable: {thread_id}}`) goes to a runnable's invoke. */
  execute<I, O>(
    fn: ((inputs: I, workflow: WfloWorkflow) => O | Promise<O>) | Invokable<I, O>,
    inputs?: I,
    config?: Record<string, unknown>,
  ): Promise<O>;
  /** Ends the execution: `end()` when its body returned, `end(error)` with the error it raised (a budget refusal anywhere along its causes: budget_exceeded, else failed). Null when it was not running. */
  end(): Promise<ExecutionStatus | null>;
  end(error: unknown): Promise<ExecutionStatus | null>;
  /** Runs `fn(scope)` in the step scope `label`: its calls, however deep, are charged there. */
  step<O>(label: string, fn: (scope: Scope) => O | Promise<O>, options?: { budgetUsd?: UsdAmount | null }): Promise<O>;
  scope(label: string, options?: { budgetUsd?: UsdAmount | null }): Promise<Scope>;
  reserve(request: CallRequest, scope?: Scope | null): Promise<Reservation>;
  /** Reserves a provider request read by the engine; send the reservation's `requestBody`. */
  reserveRequest(format: RequestFormat, body: object | string, options?: RequestOptions | null, scope?: Scope | null): Promise<Reservation>;
  /** `reserve` without the promise (a started workflow without shared scopes). */
  reserveSync(request: CallRequest, scope?: Scope | null): Reservation;
  recordCall(model: string, response: unknown, format?: string): Promise<Settled>;
  checkpoint(name: string, state: unknown): Promise<CheckpointInfo>;
  rollbackToCheckpoint<S = unknown>(name: string): Promise<S>;
  /** One checkpoint's state by id (superseded ones included). */
  checkpointState<S = unknown>(id: number): Promise<S>;
  latestCheckpoint<S = unknown>(): Promise<S | null>;
  checkpoints(): Promise<CheckpointInfo[]>;
  calls(): Promise<CallRecord[]>;
  breakdown(): Promise<CostBreakdown>;
  /** @deprecated the seed SDK's name for `breakdown()`. */
  getCostBreakdown(): Promise<CostBreakdown>;
}

export declare function getDefaultEngine(): Promise<Engine>;
export declare function setDefaultEngine(engine: Engine): void;
/** The workflow the calling code runs in (AsyncLocalStorage), or null. */
export declare function currentWorkflow(): WfloWorkflow | null;
export declare function settleFromResult(reservation: Reservation, result: unknown, format?: string): Settled;
/** Wraps a function making one LLM call: budgeted before it runs, settled from its result's usage. */
export declare function trackLlmCall<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  options: { model: string; maxTokens?: number; provider?: string; format?: string },
): (...args: A) => Promise<R>;
export declare function countTokens(model: string, text: string): TokenCount;
export declare function countChatTokens(model: string, messages: unknown[] | string): TokenCount;
export declare function price(model: string): { resolved: string; resolution: string; price: Record<string, unknown> };
export declare function cost(model: string, usage: Usage): { nanos: number; usd: number };
export declare function parseUsage(format: string, json: string | object): Required<Usage>;
export declare const version: string;

export declare class WfloError extends Error {
  readonly code: 'INVALID_ARGUMENT' | 'UNKNOWN_MODEL' | 'BUDGET_EXCEEDED' | 'NOT_FOUND' | 'CONFLICT' | 'STORAGE' | 'CLOSED' | 'INTERNAL';
  readonly details: Record<string, unknown>;
}
export declare class InvalidArgumentError extends WfloError {}
export declare class NotFoundError extends WfloError {}
export declare class ConflictError extends WfloError {}
export declare class StorageError extends WfloError {}
export declare class ClosedError extends WfloError {}
export declare class InternalError extends WfloError {}
export declare class UnknownModelError extends WfloError {
  readonly model: string;
  readonly suggestions: string[];
}
/** A call was refused before it was made: it could have passed the limit of `scope`. */
export declare class BudgetExceededError extends WfloError {
  readonly code: 'BUDGET_EXCEEDED';
  readonly scope: string;
  readonly budgetUsd: number;
  readonly spentUsd: number;
  readonly reservedUsd: number;
  readonly requestedUsd: number;
  readonly limitNanos: number;
  readonly spentNanos: number;
  readonly reservedNanos: number;
  readonly requestedNanos: number;
}

declare const wflo: {
  version: string; Engine: typeof Engine; WfloWorkflow: typeof WfloWorkflow; trackLlmCall: typeof trackLlmCall;
  countTokens: typeof countTokens; countChatTokens: typeof countChatTokens; price: typeof price; cost: typeof cost;
  BudgetExceededError: typeof BudgetExceededError; WfloError: typeof WfloError;
};
export default wflo;
