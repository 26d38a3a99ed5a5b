package wflo

/*
#include "wflo.h"
*/
import "C"

import (
	"encoding/json"
	"unsafe"
)

// CheckpointInfo describes a saved checkpoint.
type CheckpointInfo struct {
	ID         uint64  `json:"id"`
	Name       string  `json:"name"`
	Sequence   uint64  `json:"sequence"`
	ParentID   *uint64 `json:"parent_id"`
	SpentNanos uint64  `json:"spent_nanos"`
	Superseded bool    `json:"superseded"`
	StateBytes uint64  `json:"state_bytes"`
	// ContentType names a binary state's format (CheckpointBinary); empty for a JSON state.
	ContentType string `json:"content_type,omitempty"`
}

// CheckpointState is a checkpoint's state of either kind, as the *Any calls return it: JSON
// (JSON set), or binary — bytes in the caller's own format, named by ContentType — so a
// workflow whose state is msgpack, protobuf or a pickle keeps it without a JSON detour.
type CheckpointState struct {
	// JSON is a JSON state's text; nil for a binary state.
	JSON json.RawMessage
	// ContentType names a binary state's format ("application/msgpack"); empty for JSON
	// (the engine refuses an empty content type, so it cannot be confused).
	ContentType string
	// Data is a binary state's bytes exactly as saved (empty, not nil, for an empty state);
	// nil for a JSON state.
	Data []byte
}

// IsBinary says whether the state is binary (ContentType and Data) rather than JSON.
func (s CheckpointState) IsBinary() bool { return s.ContentType != "" }

// Checkpoint saves state (any value that marshals to JSON; json.RawMessage as is) as
// checkpoint name, committed before it returns.
func (x *Execution) Checkpoint(name string, state any) (CheckpointInfo, error) {
	raw, ok := state.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(state); err != nil {
			return CheckpointInfo{}, invalid("invalid argument: checkpoint state does not marshal to JSON: %v", err)
		}
	}
	var out *C.char
	np, nn := cstr(name)
	sp, sn := cbytes(raw)
	if err := x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_checkpoint_save(h, np, nn, sp, sn, &out) }); err != nil {
		return CheckpointInfo{}, err
	}
	var info CheckpointInfo
	return info, takeJSON(out, &info)
}

// Checkpoints lists the execution's checkpoints (superseded ones included).
func (x *Execution) Checkpoints() ([]CheckpointInfo, error) {
	var out *C.char
	if err := x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_checkpoint_list_json(h, &out) }); err != nil {
		return nil, err
	}
	var list []CheckpointInfo
	return list, takeJSON(out, &list)
}

// CheckpointsSince returns the execution's checkpoints after sequence afterSequence (0: all;
// superseded ones included, flagged), in order, and how many rollbacks it has had: a reader
// keeping its own index of the checkpoints reads only what was saved since it last looked, and
// reads them all again when rollbacks grew (a rollback changes which earlier checkpoints are
// live). The count is read before the list, so a rollback made
// in between is seen by the next call, never missed.
func (x *Execution) CheckpointsSince(afterSequence uint64) (checkpoints []CheckpointInfo, rollbacks uint64, err error) {
	var out *C.char
	var n C.uint64_t
	if err := x.with(func(h *C.wflo_execution) C.wflo_status {
		return C.wflo_checkpoint_list_after_json(h, C.uint64_t(afterSequence), &out, &n)
	}); err != nil {
		return nil, 0, err
	}
	if err := takeJSON(out, &checkpoints); err != nil {
		return nil, 0, err
	}
	return checkpoints, uint64(n), nil
}

// CheckpointsSinceWithState is CheckpointsSince and CheckpointStateAny of checkpoint id in
// one call — one crossing into libwflo per load instead of two. It exists for a reader keeping
// its own index of the checkpoints (a LangGraph saver): it reads the state its index names and
// learns in the same call whether the index is still current (no checkpoints after
// afterSequence and the same number of rollbacks). A state never changes, so it is right even
// when the index was stale; the reader only picks again when something changed. ErrNotFound
// when the execution has no checkpoint with that id; on any error nothing else is returned.
func (x *Execution) CheckpointsSinceWithState(afterSequence, id uint64) (checkpoints []CheckpointInfo, rollbacks uint64, state CheckpointState, err error) {
	var out *C.char
	var n C.uint64_t
	state, err = x.stateAny(func(h *C.wflo_execution, ct **C.char, data **C.uint8_t, size *C.size_t) C.wflo_status {
		return C.wflo_checkpoint_since_with_state(h, C.uint64_t(afterSequence), C.uint64_t(id), &out, &n, ct, data, size)
	})
	if err != nil {
		return nil, 0, CheckpointState{}, err
	}
	if err := takeJSON(out, &checkpoints); err != nil {
		return nil, 0, CheckpointState{}, err
	}
	return checkpoints, uint64(n), state, nil
}

// CheckpointBinary saves data — bytes in the caller's own format, named by contentType
// (e.g. "application/msgpack"; 1 to 255 printable ASCII characters without spaces, else
// ErrInvalidArgument: an empty one too) — as checkpoint name, committed before it returns.
// The bytes are stored as they are and come back byte for byte from the *Any calls; the info
// carries contentType. CheckpointBytes saves bytes of no named format.
func (x *Execution) CheckpointBinary(name, contentType string, data []byte) (CheckpointInfo, error) {
	cp, cn := cstrGiven(contentType)
	return x.checkpointBinary(name, cp, cn, data)
}

// CheckpointBytes is CheckpointBinary without a content type: the engine names data with its
// default, "application/octet-stream" (the info's ContentType says so).
func (x *Execution) CheckpointBytes(name string, data []byte) (CheckpointInfo, error) {
	return x.checkpointBinary(name, nil, 0, data)
}

// checkpointBinary saves a binary state; a NULL content type is none given.
func (x *Execution) checkpointBinary(name string, cp *C.char, cn C.size_t, data []byte) (CheckpointInfo, error) {
	var out *C.char
	np, nn := cstr(name)
	dp, dn := cbytes(data)
	if err := x.with(func(h *C.wflo_execution) C.wflo_status {
		return C.wflo_checkpoint_save_binary(h, np, nn, cp, cn, (*C.uint8_t)(unsafe.Pointer(dp)), dn, &out)
	}); err != nil {
		return CheckpointInfo{}, err
	}
	var info CheckpointInfo
	return info, takeJSON(out, &info)
}

// RollbackToCheckpoint returns the state of the latest live checkpoint called name and marks
// later ones superseded (kept as history). Money spent since stays spent. It is for JSON
// states: a binary one is refused with ErrInvalidArgument (naming its content type) before
// anything changes — use RollbackToCheckpointAny when a state may be binary.
func (x *Execution) RollbackToCheckpoint(name string) (json.RawMessage, error) {
	var out *C.char
	p, n := cstr(name)
	if err := x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_checkpoint_rollback(h, p, n, &out) }); err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}

// LatestCheckpoint returns the latest live checkpoint's state (ErrNotFound when none;
// ErrInvalidArgument when it is binary: see LatestCheckpointAny).
func (x *Execution) LatestCheckpoint() (json.RawMessage, error) {
	var out *C.char
	if err := x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_checkpoint_latest(h, &out) }); err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}

// RollbackToCheckpointAny is RollbackToCheckpoint for a state of either kind.
func (x *Execution) RollbackToCheckpointAny(name string) (CheckpointState, error) {
	p, n := cstr(name)
	return x.stateAny(func(h *C.wflo_execution, ct **C.char, data **C.uint8_t, size *C.size_t) C.wflo_status {
		return C.wflo_checkpoint_rollback_any(h, p, n, ct, data, size)
	})
}

// LatestCheckpointAny is LatestCheckpoint for a state of either kind (ErrNotFound when the
// execution has no live checkpoint).
func (x *Execution) LatestCheckpointAny() (CheckpointState, error) {
	return x.stateAny(func(h *C.wflo_execution, ct **C.char, data **C.uint8_t, size *C.size_t) C.wflo_status {
		return C.wflo_checkpoint_latest_any(h, ct, data, size)
	})
}

// CheckpointStateAny returns the state of one checkpoint of this execution by its id
// (CheckpointInfo.ID; superseded ones included), of either kind; ErrNotFound when the
// execution has no checkpoint with that id.
func (x *Execution) CheckpointStateAny(id uint64) (CheckpointState, error) {
	return x.stateAny(func(h *C.wflo_execution, ct **C.char, data **C.uint8_t, size *C.size_t) C.wflo_status {
		return C.wflo_checkpoint_state_any(h, C.uint64_t(id), ct, data, size)
	})
}

// stateAny runs one of the C ABI's *_any calls and copies the state it returned into Go
// memory, freeing libwflo's: a NULL content type means the bytes are JSON text.
func (x *Execution) stateAny(f func(*C.wflo_execution, **C.char, **C.uint8_t, *C.size_t) C.wflo_status) (CheckpointState, error) {
	var ct *C.char
	var data *C.uint8_t
	var size C.size_t
	if err := x.with(func(h *C.wflo_execution) C.wflo_status { return f(h, &ct, &data, &size) }); err != nil {
		return CheckpointState{}, err
	}
	// Copied with make+copy rather than C.GoBytes, whose length is a C int: a state over
	// 2 GiB would be cut short.
	buf := make([]byte, int(size))
	copy(buf, unsafe.Slice((*byte)(unsafe.Pointer(data)), int(size)))
	C.wflo_bytes_free(data, size)
	if ct == nil {
		return CheckpointState{JSON: json.RawMessage(buf)}, nil
	}
	return CheckpointState{ContentType: takeString(ct), Data: buf}, nil
}
