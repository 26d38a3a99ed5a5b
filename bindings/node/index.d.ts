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

/** Budget held for one call: settle it with the provider's usage, or release it. */
export declare class Reservation {
  readonly amountNanos: number;
  /** The max_tokens to send (lower than asked under the clamp policy). */
  readonly maxOutputTokens: number;
  readonly ended: boolean;
  settle(usage: Usage): Settled;
  /** Settles from a provider's response body or usage JSON ("auto", "openai_chat", "openai_responses", "anthropic", "gemini", "langchain", "ai_sdk"). */
  settleJson(format: string, json: string): Settled;
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
  status: 'running' | 'completed' | 'failed' | 'budget_exceeded';
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

/** A step or agent scope of an execution. */
export interface Scope {
  readonly label: string;
  child(label: string, budgetNanos?: number | null): Scope;
  reserve(request: CallRequest): Reservation;
  reserveAsync(request: CallRequest): Promise<Reservation>;
}

/** An engine: a store, prices, token counts. */
export declare class Engine {
  /** Opens an engine over a store URL (a SQLite path, "sqlite://…", "memory://", "postgres://…"); default: WFLO_DATABASE_URL, DATABASE_URL, the default SQLite file. */
  static open(url?: string | null): Promise<Engine>;
  close(): Promise<void>;
  setPrices(prices: string | { models: object[] }): void;
  countTokens(model: string, text: string): TokenCount;
  countTokensAsync(model: string, text: string): Promise<TokenCount>;
  countChatTokens(model: string, messages: unknown[] | string): TokenCount;
  cost(model: string, usage: Usage): { nanos: number; usd: number };
  price(model: string): { resolved: string; resolution: string; price: Record<string, unknown> };
  usdToNanos(usd: number): number;
  defineSharedScope(name: string, options?: { limitUsd?: number | null; period?: 'none' | 'day' | 'month' }): Promise<void>;
  sharedScope(name: string): Promise<{ name: string; key: string; period: string; limitNanos: number | null; spentNanos: number; reservedNanos: number; overrunNanos: number; refusing: boolean }>;
  execution(id: string): Promise<{ execution: object; breakdown: CostBreakdown; calls: CallRecord[]; checkpoints: CheckpointInfo[]; rollbacks: object[] }>;
  listExecutions(limit?: number): Promise<object[]>;
}

export interface WorkflowOptions {
  name?: string;
  /** The budget in dollars (none when omitted). */
  budgetUsd?: number | string | null;
  engine?: Engine;
  /** Shared budgets (Engine.defineSharedScope) the workflow also draws from. */
  sharedScopes?: string[];
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
  engine(): Promise<Engine>;
  start(): Promise<this>;
  /** Runs one execution; `config` (e.g. `{configurable: {thread_id}}`) goes to a runnable's invoke. */
  execute<I, O>(
    fn: ((inputs: I, workflow: WfloWorkflow) => O | Promise<O>) | Invokable<I, O>,
    inputs?: I,
    config?: Record<string, unknown>,
  ): Promise<O>;
  step<O>(label: string, fn: () => O | Promise<O>, options?: { budgetUsd?: number }): Promise<O>;
  scope(label: string, options?: { budgetUsd?: number }): Promise<Scope>;
  reserve(request: CallRequest, scope?: Scope | null): Promise<Reservation>;
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
