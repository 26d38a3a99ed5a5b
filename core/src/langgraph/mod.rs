//! LangGraph checkpointing over wflo's store, written once for every face's saver (Python's
//! `WfloCheckpointSaver`, LangGraph.js's): the records a saver stores and their one layout
//! ([`record`]), their names, the saver's operations ([`Checkpointer`]) and the channel
//! versions it gives LangGraph ([`next_version`]: unique across branches). A face converts
//! LangGraph's objects — its serializer turns each value into [`Typed`] bytes, which are stored
//! as they are — and decides nothing.
//!
//! How LangGraph's records map onto wflo (all of them checkpoints of ONE execution):
//!
//! | LangGraph | wflo checkpoint name | record |
//! |---|---|---|
//! | checkpoint (thread, ns, id) | `langgraph/<thread>/<ns>/<id>` | the checkpoint, metadata, parent id, changed channels, channel versions, which checkpoint holds each unchanged channel |
//! | writes (thread, ns, id, task) | `langgraph-writes/<thread>/<ns>/<id>` | task id and path, writes |
//! | delete_thread / delete_for_runs / prune | `langgraph-delete/<thread>` | a tombstone: the thread, or some of its checkpoints |

mod index;
mod msgpack;
mod names;
pub mod record;
mod saver;
mod versions;
pub mod wire;

pub use names::checkpoint_name;
pub use record::{
    Channel, CheckpointRecord, DeleteRecord, PYTHON_MSGPACK_CONTENT_TYPE, RECORD_CONTENT_TYPE,
    Record, Typed, Write, WritesRecord,
};
pub use saver::{Checkpointer, ListFilter, PendingWrite, Tuple};
pub use versions::next_version;
