// Types of `wflo/openai-agents`. Written structurally (no import from `@openai/agents`), so
// they resolve whether or not the Agents SDK is installed; the provider is assignable to its
// `ModelProvider` and the models to its `Model`.
import type { WfloWorkflow } from '../index.js';

export interface WfloAgentsOptions {
  /** The workflow to charge (default: the one the calling code runs in; none: pass through). */
  workflow?: WfloWorkflow;
  /** The agent to charge (default: the running agent, as the SDK's current span names it). */
  agent?: string | ((request: unknown) => string | undefined);
  /** The provider to record (default: from the model's client base URL, else the model name). */
  provider?: string;
  /** The client's base URL, when the model does not expose it. */
  baseUrl?: string;
  /** The model name to price when the SDK asks for its default model. */
  model?: string;
  /** Lower the request's max tokens to what the budget still allows instead of refusing. */
  clampMaxTokens?: boolean;
}

/** The parts of an Agents SDK `Model` the wrapper calls. */
export interface AgentsModel {
  getResponse(request: any): Promise<any>;
  getStreamedResponse(request: any): AsyncIterable<any>;
}

/** The parts of an Agents SDK `ModelProvider` the wrapper calls. */
export interface AgentsModelProvider {
  getModel(modelName?: string): Promise<AgentsModel> | AgentsModel;
}

/** A metered Agents SDK model. */
export declare class WfloModel implements AgentsModel {
  getResponse(request: any): Promise<any>;
  getStreamedResponse(request: any): AsyncIterable<any>;
}

/**
 * A ModelProvider whose models are metered: inside a workflow each model call of an agent run
 * is reserved before it is sent (a call that could overspend rejects with
 * `BudgetExceededError`, and the run with it), charged to the running agent's scope
 * (`agent:<name>`, handoffs included) and settled with the usage the SDK reports. Outside
 * any workflow the models behave as before. `provider` defaults to the SDK's OpenAIProvider.
 */
export declare function wfloModelProvider(provider?: AgentsModelProvider, options?: WfloAgentsOptions): AgentsModelProvider;

/** Meters one Model instance (an agent's `model` given as an object). */
export declare function wrapModel<M extends AgentsModel>(model: M, options?: WfloAgentsOptions): WfloModel;

/** Makes the metered provider the SDK's default: `run(agent, input)` is budgeted in every workflow. */
export declare function setDefaultWfloModelProvider(provider?: AgentsModelProvider, options?: WfloAgentsOptions): AgentsModelProvider;

/** Runs `agent` with a Runner whose models are metered (`runOptions` as `run()` takes, `modelProvider` included). */
export declare function runAgent(agent: unknown, input: unknown, runOptions?: Record<string, unknown>, options?: WfloAgentsOptions): Promise<any>;

declare const openaiAgents: {
  wfloModelProvider: typeof wfloModelProvider;
  wrapModel: typeof wrapModel;
  setDefaultWfloModelProvider: typeof setDefaultWfloModelProvider;
  runAgent: typeof runAgent;
  WfloModel: typeof WfloModel;
};
export default openaiAgents;
