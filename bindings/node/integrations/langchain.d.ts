// Types of `wflo/langchain`.
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { Serialized } from '@langchain/core/load/serializable';
import type { BaseMessage } from '@langchain/core/messages';
import type { LLMResult } from '@langchain/core/outputs';
import type { WfloWorkflow } from '../index.js';

export interface WfloCallbackHandlerOptions {
  /** The workflow to meter calls on (default: the one the call runs in, e.g. inside `workflow.execute`). */
  workflow?: WfloWorkflow | null;
  /** The model to price calls with when a call names none (no `invocation_params.model`, no `ls_model_name`). */
  model?: string | null;
}

/**
 * A LangChain.js callback handler that budgets every model call of a wflo workflow: the engine reads
 * the call (messages, tools, invocation parameters) and reserves its worst case BEFORE the request (a `BudgetExceededError` rejects the
 * model call unsent), settled from the reply's `usage_metadata` after, released on error.
 * Outside any workflow, without one given, it does nothing.
 */
export declare class WfloCallbackHandler extends BaseCallbackHandler {
  constructor(options?: WfloCallbackHandlerOptions);
  name: string;
  readonly workflow: WfloWorkflow | null;
  readonly model: string | null;
  handleChatModelStart(llm: Serialized, messages: BaseMessage[][], runId: string, parentRunId?: string,
    extraParams?: Record<string, unknown>, tags?: string[], metadata?: Record<string, unknown>): Promise<void>;
  handleLLMStart(llm: Serialized, prompts: string[], runId: string, parentRunId?: string,
    extraParams?: Record<string, unknown>, tags?: string[], metadata?: Record<string, unknown>): Promise<void>;
  handleLLMEnd(output: LLMResult, runId: string): Promise<void>;
  handleLLMError(err: unknown, runId: string): Promise<void>;
}
