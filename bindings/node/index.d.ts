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
  /** Which attempt of a retried call this is (absent: 1; inside `withRetry`, its retry's). */
  attempt?: number | null;
  /** Why this attempt is made (a retry decision's `reason`), recorded with the call. */
  retryReason?: string | null;
  /** The agent the call is made for, by its framework's name: it reserves on the agent's scope `agent:<name>` (its `agentBudgetsUsd` share, if any). */
  agent?: string | null;
  /** The request is what a tracker that cannot see the call was told (`trackLlmCall`): a refusal says how it was sized and how to make it precise. */
  upfront?: boolean | null;
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
  /** Size of the state as given (JSON text or binary bytes, before compression). */
  stateBytes: number;
  /** The content type of a binary state; absent for a JSON state. */
  contentType?: string;
}

/** What `WfloWorkflow.checkpointsSince` resolves to. */
export interface CheckpointsSince {
  /** The checkpoints saved after the sequence given, in sequence order. */
  checkpoints: CheckpointInfo[];
  /** How many rollbacks the execution has had. */
  rollbacks: number;
}

/** Node's Buffer where Node's types are loaded (@types/node), else the Uint8Array it extends. */
type NodeBuffer = typeof globalThis extends { Buffer: abstract new (...args: any[]) => infer B } ? B : Uint8Array;

/**
 * A binary checkpoint state: bytes in the caller's own format, named by `contentType` (e.g.
 * "application/msgpack"), stored as they are and returned byte for byte. `rollbackToCheckpoint`,
 * `latestCheckpoint` and `checkpointState` return one for a state saved as bytes (the parsed
 * JSON for a JSON state): `instanceof BinaryState` tells them apart.
 */
export declare class BinaryState {
  /** `data` is kept as a Buffer over the same memory (not copied); the engine checks `contentType` (1 to 255 printable ASCII characters, no spaces) when it is saved. */
  constructor(contentType: string, data: Uint8Array | ArrayBuffer);
  readonly contentType: string;
  /** The bytes, a Buffer. */
  readonly data: NodeBuffer;
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
  status: 'ok' | 'error' | 'refused' | 'aborted' | 'unsettled';
  error: string | null;
  /** Which attempt of a retried call this is (1: the first, or a call never retried). */
  attempt: number;
  /** Why this attempt was made (the retry decision's reason), or null. */
  retryReason: string | null;
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
  /** `reserve` without the promise; an undecided approval gate throws ApprovalPendingError. */
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
  defineSharedScope(name: string, options?: { limitUsd?: UsdAmount | null; period?: 'none' | 'day' | 'month'; allowances?: boolean | null }): Promise<void>;
  /** A shared scope's figures for its current period; this process's own spend and unused allowance go to the store first. Of `reservedNanos`, `allowanceNanos` is held as allowances by `allowanceHolders` processes. */
  sharedScope(name: string): Promise<{ name: string; key: string; period: string; limitNanos: number | null; spentNanos: number; reservedNanos: number; overrunNanos: number; refusing: boolean; allowances: boolean; allowanceNanos: number; allowanceHolders: number }>;
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
  /** A retrier for one logical call whose first attempt begins now (omitted policy fields keep the engine's defaults); a bad policy throws InvalidArgumentError. */
  retrier(policy?: RetryPolicy | null): Retrier;
  /** This engine's circuit breaker `name`, made with `config` the first time; later calls get the same breaker whatever settings they pass. */
  breaker(name: string, config?: BreakerConfig | null): CircuitBreaker;
  /** Every breaker of this engine with its figures, by name. */
  breakers(): BreakerStatus[];
  /** Every shared breaker on the store (only `name`'s when given) and the latest `limit` (default 50) changes of state of every breaker, oldest first. */
  breakersOnStore(options?: { name?: string | null; limit?: number }): StoreBreakers;
  /** The resource `name` (1 to 200 bytes) of this engine's store: a lock or semaphore every engine and process on the store shares. Touches no storage. */
  resource(name: string, settings?: ResourceLockSettings | null): ResourceLock;
  /** The approvals in the store, newest first (only pending ones with `pendingOnly`; at most 1000). */
  approvals(options?: { pendingOnly?: boolean }): Promise<Approval[]>;
  /** One approval by id (pending or decided); NotFoundError when there is none. */
  approval(id: string): Promise<Approval>;
  /** Approves a pending approval (`by` default USER@host); ConflictError when already decided, NotFoundError when unknown. */
  approve(id: string, options?: { note?: string | null; by?: string | null }): Promise<Approval>;
  /** Denies a pending approval; its waiter gets ApprovalDeniedError with `by` and `note`. */
  deny(id: string, options?: { note?: string | null; by?: string | null }): Promise<Approval>;
}

/** A resource's settings; omitted fields keep the defaults (a lock of one holder, 30 s timeout, 5 s contention threshold). */
export interface ResourceLockSettings {
  /** How many may hold it at once (1: a lock; up to 10000). */
  maxConcurrent?: number;
  /** How long an acquisition waits before ResourceBusyError, ms. */
  timeoutMs?: number;
  /** A longer wait counts as contention (and is logged with who held the resource), ms. */
  contentionThresholdMs?: number;
  /** A hold's lease (null: the engine's); a holder keeping it longer renews, a crashed one frees its slot when it ends. */
  leaseMs?: number | null;
}

/** Who holds a slot of a resource. */
export interface ResourceHolder {
  holdId: string;
  /** The holding process, host:pid. */
  holder: string;
  workflowId: string;
  acquiredAtMs: number;
  leaseUntilMs: number;
}

/** A resource's statistics and current holders, as every process on the store sees them. */
export interface ResourceStats {
  resource: string;
  acquisitions: number;
  /** Acquisitions and timeouts whose wait passed the contention threshold. */
  contentions: number;
  timeouts: number;
  /** Summed over granted acquisitions. */
  totalWaitMs: number;
  maxWaitMs: number;
  /** Holders whose lease has not ended, oldest first. */
  holders: ResourceHolder[];
}

/** A slot of a resource, held until released or until its lease ends (given back when garbage-collected). */
export declare class Permit {
  private constructor();
  readonly resource: string;
  /** How long the acquisition waited, ms. */
  readonly waitedMs: number;
  /** Whether `release()` was called. */
  readonly released: boolean;
  /** Extends the lease from now; false when it had already ended and the slot may have been taken. */
  renew(): Promise<boolean>;
  /** Gives the slot back; releasing twice is fine. */
  release(): Promise<void>;
}

/** A named lock or semaphore of the engine's store (`engine.resource(name, settings)`). */
export declare class ResourceLock {
  private constructor();
  readonly name: string;
  readonly config: Required<ResourceLockSettings>;
  /** Takes a slot for `workflowId`, waiting off the JavaScript thread up to `timeoutMs` (omitted: the configured timeout; 0: no wait); ResourceBusyError when none freed in time. */
  acquire(workflowId: string, options?: { timeoutMs?: number | null }): Promise<Permit>;
  /** Runs `fn(permit)` holding a slot, and releases it however `fn` ends. */
  withLock<T>(workflowId: string, fn: (permit: Permit) => T | Promise<T>, options?: { timeoutMs?: number | null }): Promise<T>;
  stats(): Promise<ResourceStats>;
  /** Zeroes the statistics (holds stay). */
  resetStats(): Promise<void>;
}

/** An approval gate's record in the store. */
export interface Approval {
  id: string;
  executionId: string;
  gate: string;
  /** What happens once approved ("run <gate>" by default). */
  what: string;
  why: string;
  worstCaseNanos: number | null;
  /** Who asked (host:pid by default). */
  requestedBy: string;
  onTimeout: 'deny' | 'approve';
  status: 'pending' | 'approved' | 'denied' | 'expired';
  note: string | null;
  decidedBy: string | null;
  createdAtMs: number;
  expiresAtMs: number | null;
  decidedAtMs: number | null;
}

/** What an approval request says, and how long it waits. */
export interface ApprovalOptions {
  why?: string;
  /** Default "run <gate>". */
  what?: string;
  /** The worst case of the spend behind the gate: dollars (a decimal string or a number) or nano-USD (a bigint). */
  worstCaseUsd?: UsdAmount | null;
  /** How long to wait for a decision from when it was first asked (default one hour). */
  timeoutMs?: number | null;
  /** What an unanswered approval means when its timeout passes (default "deny"). */
  onTimeout?: 'deny' | 'approve' | null;
  /** Who asks (default host:pid). */
  requestedBy?: string | null;
}

/** A retry policy; omitted fields keep the engine's defaults (3 retries, 1 s base, 60 s cap, ×2, jitter 0.1). */
export interface RetryPolicy {
  /** How the delay grows: base × multiplier^(n−1), base × n, or base. */
  backoff?: 'exponential' | 'linear' | 'fixed';
  /** Retries after the first attempt (at most maxRetries + 1 attempts). */
  maxRetries?: number;
  baseDelayMs?: number;
  /** The cap on a computed delay (a server's Retry-After may ask for longer). */
  maxDelayMs?: number;
  multiplier?: number;
  /** Spread each delay uniformly by ± this fraction (0 to 1). */
  jitter?: number;
  /** No retry whose wait would end later than this many ms after the first attempt began. */
  deadlineMs?: number | null;
  /** HTTP statuses worth retrying (default 408, 429 and every 5xx). */
  retryStatuses?: number[] | null;
  retryTimeouts?: boolean;
  retryConnectionErrors?: boolean;
  /** Seeds the jitter (tests); unseeded jitter draws from the OS. */
  seed?: number | bigint | null;
}

/** What kind of failure an attempt ended in. */
export type FailureKind = 'http' | 'timeout' | 'connection' | 'transient' | 'refused' | 'other';

/** One failed attempt as the engine reads it: ids, statuses and header values only. */
export interface Failure {
  kind: FailureKind;
  status?: number | null;
  /** The response's headers; only the retry and rate-limit ones are read. */
  headers?: [string, string][] | Headers | Map<string, string> | Record<string, string | string[]> | null;
  /** A short description ("429 Too Many Requests", "connection reset"). */
  message?: string | null;
}

/** What to do after a failed attempt. */
export type RetryDecision =
  | { decision: 'retry'; /** The attempt to make next. */ attempt: number; delayMs: number; reason: string }
  | { decision: 'give_up'; /** Why: a failure the policy never retries, attempts ran out, or the deadline. */ why: 'not_retryable' | 'exhausted' | 'deadline'; reason: string };

/** The retry state of one logical call (`engine.retrier(policy)`): ask `next(failure)` after each failed attempt. */
export declare class Retrier {
  private constructor();
  /** The attempt being made now (1 for the first). */
  readonly attempt: number;
  /** The policy, every field filled in. */
  readonly policy: Required<RetryPolicy>;
  /** The attempt just made failed: retry (after `delayMs`, as attempt `attempt`) or give up. */
  next(failure: Failure): RetryDecision;
  /** Whether the policy retries a failure like this at all (attempts and deadline aside). */
  retryable(failure: Failure): boolean;
  /** What a refusal of the retry about to be made must say ("attempt 2 not sent: attempt 1 failed: …"), or null. */
  refusalNote(): string | null;
  /** `message` with the refusal note added. */
  refusedMessage(message: string): string;
  /** The error to throw for a refused retry: a BudgetExceededError re-worded with the refusal note; other errors as they are. */
  refused<E>(error: E): E | BudgetExceededError;
  /** The jittered policy delay before retry `n`, in ms, with no server hint. */
  delayMs(n: number): number;
}

/** A circuit breaker's settings; omitted fields keep the defaults (5 failures, 60 s, 2 successes). */
export interface BreakerConfig {
  /** Consecutive failures that open the breaker. */
  failureThreshold?: number;
  /** How long an open breaker refuses before it lets trial calls through. */
  recoveryTimeoutMs?: number;
  /** Successful trial calls that close a half-open breaker. */
  successThreshold?: number;
  /** Also open when this fraction of the last `window` calls failed (null: count only). */
  failureRate?: number | null;
  window?: number;
  /** The rate rule applies only once the window holds this many calls. */
  minCalls?: number;
  /**
   * Keeps the state in the store: every process on the store sees one breaker; give them all
   * the same settings; each check/outcome is a store transaction (default false: this
   * engine's own breaker, in memory).
   */
  shared?: boolean;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** A change of a breaker's state, as recorded in the store. */
export interface BreakerTransition {
  /** The breaker's name. */
  breaker: string;
  /** Whether the breaker is shared through the store (else it is one process's). */
  shared: boolean;
  from: BreakerState;
  to: BreakerState;
  atMs: number;
  /** Why: `5 consecutive failures`, `recovery timeout passed`, `2 successful trial calls`, `reset`. */
  reason: string;
  /** The process whose call made the change (`host:pid`). */
  holder: string;
}

/** A breaker's figures. */
export interface BreakerStatus {
  name: string;
  /** Whether its state lives in the store (`shared: true`). */
  shared: boolean;
  state: BreakerState;
  /** Consecutive failures (closed) or failures since it last closed. */
  failureCount: number;
  /** Successful trial calls while half-open. */
  successCount: number;
  totalCalls: number;
  totalFailures: number;
  /** Calls refused because the breaker was open. */
  rejected: number;
  openedAtMs: number | null;
  /** While open: how long until trial calls are let through. */
  retryInMs: number | null;
  /** The most recent state changes, oldest first. */
  transitions: BreakerTransition[];
}

/** Circuit breakers as the store knows them (`engine.breakersOnStore()`). */
export interface StoreBreakers {
  /** Every shared breaker's figures, by name, whichever process made it. */
  shared: BreakerStatus[];
  /** The latest changes of state of every breaker, shared or one process's, oldest first. */
  transitions: BreakerTransition[];
}

/** One of the engine's circuit breakers (`engine.breaker(name)`), shared by every caller asking for `name`. */
export declare class CircuitBreaker {
  private constructor();
  readonly name: string;
  /** The state now (an open breaker past its recovery timeout reads half_open; a shared breaker's is read from the store, and reading it may throw). */
  readonly state: BreakerState;
  readonly config: Required<BreakerConfig>;
  /** Throws CircuitOpenError while the breaker is open. */
  check(): void;
  recordSuccess(): void;
  recordFailure(): void;
  /** Closes the breaker and forgets its counts. */
  reset(): void;
  status(): BreakerStatus;
  /** Checks the breaker (open: throws CircuitOpenError, `fn` not called), runs `fn` and records its outcome; a wflo refusal thrown by `fn` (the engine's rule: BudgetExceededError, CircuitOpenError, ResourceBusyError, ApprovalDeniedError, ApprovalPendingError, CallLimitError) is rethrown and nothing is recorded. */
  call<T>(fn: () => T | Promise<T>): Promise<T>;
}

export interface WithRetryOptions {
  policy?: RetryPolicy | null;
  /** Whose clock applies (default: the running workflow's engine). */
  engine?: Engine;
  /** Awaited before each retry. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string; error: unknown }) => void | Promise<void>;
  /** Marks errors not otherwise classified (no HTTP status, not a timeout or connection error) worth retrying. */
  retryable?: (error: unknown) => boolean;
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
  /** An approval threshold, dollars as `budgetUsd`: a call whose worst case passes it waits (a promise) for a person's approval of its gate `call #n over $<threshold>` before it reserves. */
  approvalAboveUsd?: UsdAmount | null;
  /** The most LLM calls the execution may make (the original SDK's `max_iterations`): the next is refused with CallLimitError, nothing reserved; refused calls do not count. Null or omitted: no cap. */
  maxCalls?: number | bigint | null;
  /** Each agent's own budget, dollars as `budgetUsd`, by agent name: calls made for an agent (request option `agent`) reserve on its scope `agent:<name>`. */
  agentBudgetsUsd?: Record<string, UsdAmount> | null;
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
  /** Reserves a call's worst case; over `approvalAboveUsd` it awaits the gate's approval first (ApprovalDeniedError when denied). */
  reserve(request: CallRequest, scope?: Scope | null): Promise<Reservation>;
  /** Reserves a provider request read by the engine; send the reservation's `requestBody`. Awaits an approval gate as `reserve` does. */
  reserveRequest(format: RequestFormat, body: object | string, options?: RequestOptions | null, scope?: Scope | null): Promise<Reservation>;
  /** `reserve` without the promise (a started workflow without shared scopes). It cannot wait: an undecided approval gate throws ApprovalPendingError (use `reserve()`). */
  reserveSync(request: CallRequest, scope?: Scope | null): Reservation;
  recordCall(model: string, response: unknown, format?: string): Promise<Settled>;
  /**
   * Saves a checkpoint: `state` is anything JSON can hold, or a binary state — a BinaryState, or
   * bytes in the format `options.contentType` names (omitted: the engine's "application/octet-stream"). A
   * content type given with a JSON state or a BinaryState is refused (InvalidArgumentError).
   */
  checkpoint(name: string, state: unknown, options?: { contentType?: string }): Promise<CheckpointInfo>;
  /** The state of the latest live checkpoint `name` as it was saved: parsed JSON, or a BinaryState. Later checkpoints become history. */
  rollbackToCheckpoint<S = unknown>(name: string): Promise<S>;
  /** One checkpoint's state by id (superseded ones included), as it was saved: parsed JSON, or a BinaryState. */
  checkpointState<S = unknown>(id: number): Promise<S>;
  /** The latest live checkpoint's state as it was saved (parsed JSON, or a BinaryState), or null. */
  latestCheckpoint<S = unknown>(): Promise<S | null>;
  checkpoints(): Promise<CheckpointInfo[]>;
  /**
   * The checkpoints saved after sequence `afterSequence` (0: all), in order, and the execution's
   * number of rollbacks so far (read first: a rollback made meanwhile shows on the next call).
   * A reader keeping its own index reads only what is new, and everything again when
   * `rollbacks` changed. `afterSequence` must be a whole number from 0 (else InvalidArgumentError).
   */
  checkpointsSince(afterSequence: number): Promise<CheckpointsSince>;
  /**
   * `checkpointsSince(afterSequence)` and `checkpointState(id)` in one call (one trip into the
   * library), for a reader that keeps an index and loads the state it names: a state never
   * changes, so it stands even when `checkpoints` show the index was out of date. Both must be
   * whole numbers from 0 (else InvalidArgumentError); an unknown id is NotFoundError.
   */
  checkpointsSinceWithState<S = unknown>(afterSequence: number, id: number): Promise<CheckpointsSince & { state: S }>;
  calls(): Promise<CallRecord[]>;
  breakdown(): Promise<CostBreakdown>;
  /** Asks a person for approval before `gate` and waits for the decision: the approval once approved; ApprovalDeniedError when denied or timed out. The same gate asked again finds the same approval. */
  requireApproval(gate: string, options?: ApprovalOptions): Promise<Approval>;
  /** Records the approval for `gate` without waiting (pending, or the one this execution already has for it). */
  requestApproval(gate: string, options?: ApprovalOptions): Promise<Approval>;
  /** Waits off the JavaScript thread at most `waitMs` (omitted: until its timeout): the approval once approved, or still pending when `waitMs` ran out; ApprovalDeniedError when denied or timed out. */
  waitForApproval(id: string, options?: { waitMs?: number | null }): Promise<Approval>;
  /** @deprecated the seed SDK's name for `breakdown()`. */
  getCostBreakdown(): Promise<CostBreakdown>;
}

export declare function getDefaultEngine(): Promise<Engine>;
export declare function setDefaultEngine(engine: Engine): void;
/** The workflow the calling code runs in (AsyncLocalStorage), or null. */
export declare function currentWorkflow(): WfloWorkflow | null;
export declare function settleFromResult(reservation: Reservation, result: unknown, format?: string): Settled;
/**
 * Wraps a function making one LLM call, budgeted before anything is sent: from its actual request
 * when the call goes through a wrapped client the tracker is shown (`options.client`, an argument,
 * `this` or one of its properties); otherwise up front (the first argument's prompt plus
 * `maxTokens`, else the model's maximum output), settled from the result's usage.
 */
export declare function trackLlmCall<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  options: { model: string; maxTokens?: number; provider?: string; format?: string; client?: object },
): (...args: A) => Promise<R>;
/**
 * Runs `fn(attempt)` until it succeeds, asking the engine after each failure whether to retry and
 * how long to wait. A wflo refusal (the engine's rule: BudgetExceededError, CircuitOpenError,
 * ResourceBusyError, ApprovalDeniedError, ApprovalPendingError, CallLimitError) is thrown at once, never
 * retried (a refused retry's BudgetExceededError says which attempt was not sent); a failure the policy never retries is
 * thrown as it is; running out of attempts or past the deadline throws RetryExhaustedError.
 */
export declare function withRetry<T>(fn: (attempt: number) => T | Promise<T>, options?: WithRetryOptions): Promise<T>;
/** A thrown error as the engine's failure (a wflo refusal: "refused"; HTTP status and headers, timeout, connection; `retryable` marks the rest transient). */
export declare function failureOf(error: unknown, retryable?: ((error: unknown) => boolean) | null): Required<Failure> & { headers: [string, string][] };
export declare function countTokens(model: string, text: string): TokenCount;
export declare function countChatTokens(model: string, messages: unknown[] | string): TokenCount;
export declare function price(model: string): { resolved: string; resolution: string; price: Record<string, unknown> };
export declare function cost(model: string, usage: Usage): { nanos: number; usd: number };
export declare function parseUsage(format: string, json: string | object): Required<Usage>;
/** The engine's version. Read from the native addon on first access (which loads it). */
export declare const version: string;

export declare class WfloError extends Error {
  readonly code: 'INVALID_ARGUMENT' | 'UNKNOWN_MODEL' | 'BUDGET_EXCEEDED' | 'NOT_FOUND' | 'CONFLICT' | 'STORAGE' | 'CLOSED' | 'INTERNAL' | 'CIRCUIT_OPEN' | 'RESOURCE_BUSY' | 'APPROVAL_DENIED' | 'APPROVAL_PENDING' | 'CALL_LIMIT';
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
  /** For a refused retry: which attempt was not sent and what failed before it; else null. */
  readonly retryNote: string | null;
}
/** A call was refused before anything was reserved or sent: the circuit breaker `circuitName` is open. */
export declare class CircuitOpenError extends WfloError {
  readonly code: 'CIRCUIT_OPEN';
  /** The breaker's name (`name` is the error class's, as for every error). */
  readonly circuitName: string;
  readonly failures: number;
  /** How long the breaker refuses still, in ms. */
  readonly retryInMs: number;
}
/** No slot of `resource` freed within the acquisition's timeout. */
export declare class ResourceBusyError extends WfloError {
  readonly code: 'RESOURCE_BUSY';
  readonly resource: string;
  readonly waitedMs: number;
  /** Who held it when the wait gave up: `workflow (host:pid)`. */
  readonly holders: string[];
}
/** An approval gate stayed shut: denied (`by`, `note`), or not decided in time (`timedOut`). */
export declare class ApprovalDeniedError extends WfloError {
  readonly code: 'APPROVAL_DENIED';
  readonly approvalId: string;
  readonly gate: string;
  readonly timedOut: boolean;
  /** Who denied it ("timeout" when it timed out). */
  readonly by: string | null;
  readonly note: string | null;
}
/**
 * A call over the `approvalAboveUsd` threshold met gate `gate` and approval `approvalId` is not
 * decided yet: nothing was reserved or sent. `reserve`/`reserveRequest` await it themselves;
 * `reserveSync` throws this.
 */
export declare class ApprovalPendingError extends WfloError {
  readonly code: 'APPROVAL_PENDING';
  readonly approvalId: string;
  readonly gate: string;
  /** The call as the approver sees it. */
  readonly what: string;
}
/** The execution made as many LLM calls as its `maxCalls` allows: this one was refused, nothing reserved or sent. */
export declare class CallLimitError extends WfloError {
  readonly code: 'CALL_LIMIT';
  /** The execution's id. */
  readonly execution: string;
  readonly maxCalls: number;
}
/** `withRetry` ran out of attempts (or past its deadline) on a retryable failure; the message is the engine's reason. */
export declare class RetryExhaustedError extends Error {
  readonly name: 'RetryExhaustedError';
  readonly attempts: number;
  readonly lastError: unknown;
}

declare const wflo: {
  version: string; Engine: typeof Engine; WfloWorkflow: typeof WfloWorkflow; trackLlmCall: typeof trackLlmCall;
  countTokens: typeof countTokens; countChatTokens: typeof countChatTokens; price: typeof price; cost: typeof cost;
  BudgetExceededError: typeof BudgetExceededError; WfloError: typeof WfloError;
  withRetry: typeof withRetry; CircuitOpenError: typeof CircuitOpenError; RetryExhaustedError: typeof RetryExhaustedError;
  ResourceBusyError: typeof ResourceBusyError; ApprovalDeniedError: typeof ApprovalDeniedError;
  ApprovalPendingError: typeof ApprovalPendingError; CallLimitError: typeof CallLimitError;
};
export default wflo;
