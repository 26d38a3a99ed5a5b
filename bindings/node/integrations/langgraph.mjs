// ESM entry point of wflo/langgraph. The saver is the CommonJS one; its default serializer is
// taken from the ESM build of @langchain/langgraph-checkpoint, so the messages it loads are
// instances of the same @langchain/core classes as an ESM program's own.
import { JsonPlusSerializer } from '@langchain/langgraph-checkpoint';
import langgraph from './langgraph.cjs';

export class WfloCheckpointSaver extends langgraph.WfloCheckpointSaver {
  constructor(options = {}) {
    super({ ...(options ?? {}), serde: options?.serde ?? new JsonPlusSerializer() });
  }
}
export const { checkpointName, RECORD_CONTENT_TYPE } = langgraph;
export default { WfloCheckpointSaver, checkpointName, RECORD_CONTENT_TYPE };
