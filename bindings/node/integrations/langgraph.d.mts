// Types of `wflo/langgraph`.
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
} from '@langchain/langgraph-checkpoint';
import type { RunnableConfig } from '@langchain/core/runnables';
import type { Engine, WfloWorkflow } from '../index.js';

export interface WfloCheckpointSaverOptions {
  /** The workflow whose execution holds the checkpoints. */
  workflow?: WfloWorkflow | null;
  /** Without a workflow: a new execution on this engine holds them. */
  engine?: Engine | null;
  /** That new execution's name (default "langgraph"). */
  name?: string;
  /** LangGraph's serializer (default: its JsonPlusSerializer). */
  serde?: SerializerProtocol;
}

/**
 * The content type of the saver's records: each LangGraph checkpoint, set of writes and thread
 * deletion is a binary checkpoint state of this type (its fields, then each value as LangGraph's
 * serializer wrote it, byte for byte). `rollbackToCheckpoint` returns a `BinaryState` of it for a
 * LangGraph checkpoint; `WfloCheckpointSaver.configOf` reads it.
 */
export declare const RECORD_CONTENT_TYPE: 'application/vnd.wflo.langgraph.v1';

/**
 * The JSON state of one LangGraph checkpoint as the saver stored it before binary states (what
 * `rollbackToCheckpoint` returns for such a record; the saver still reads them).
 */
export interface LangGraphCheckpointState {
  langgraph: 'checkpoint';
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  /** LangGraph's serialised checkpoint without its channel values: `{json}` or `{type, base64}`. */
  checkpoint: unknown;
  metadata: unknown;
  /** The channels whose version changed at this checkpoint: [channel, version, serialised value or null]. */
  channels: [string, string | number, unknown][];
}

/**
 * A LangGraph checkpoint saver over wflo's store: a graph's checkpoints (and pending writes) are
 * checkpoints of one wflo execution — the workflow given, else a new execution on the engine
 * given, else the workflow current when the saver is used. `workflow.rollbackToCheckpoint(name)`
 * rolls the graph back too: later graph checkpoints become history.
 */
export declare class WfloCheckpointSaver extends BaseCheckpointSaver {
  constructor(options?: WfloCheckpointSaverOptions);
  /** The workflow whose execution holds the checkpoints now, or null. */
  readonly workflow: WfloWorkflow | null;
  /** The wflo checkpoint name of a LangGraph checkpoint config (with its checkpoint_id). */
  checkpointName(config: RunnableConfig): string;
  /** The LangGraph config of a checkpoint state wflo returned (a BinaryState of RECORD_CONTENT_TYPE, or a record saved as JSON before), or null when it is not one. */
  static configOf(state: unknown): RunnableConfig | null;
  getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined>;
  list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple>;
  put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig>;
  putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void>;
  deleteThread(threadId: string): Promise<void>;
  /** Deletes the checkpoints (and their writes) whose metadata's `run_id` is one of `runIds`. */
  deleteForRuns(runIds: Iterable<string>): Promise<void>;
  /** Copies a thread's live checkpoints and their writes to another thread. */
  copyThread(sourceThreadId: string, targetThreadId: string): Promise<void>;
  /** "keep_latest" (default): each namespace keeps its latest checkpoint, stored whole; "delete": the threads go. */
  prune(threadIds: Iterable<string>, options?: { strategy?: 'keep_latest' | 'delete' }): Promise<void>;
}

/** The wflo checkpoint name of LangGraph checkpoint (thread_id, checkpoint_ns, checkpoint_id). */
export declare function checkpointName(threadId: string, checkpointNs: string, checkpointId: string): string;
