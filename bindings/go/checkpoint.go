package wflo

/*
#include "wflo.h"
*/
import "C"

import "encoding/json"

// CheckpointInfo describes a saved checkpoint.
type CheckpointInfo struct {
	ID         uint64  `json:"id"`
	Name       string  `json:"name"`
	Sequence   uint64  `json:"sequence"`
	ParentID   *uint64 `json:"parent_id"`
	SpentNanos uint64  `json:"spent_nanos"`
	Superseded bool    `json:"superseded"`
	StateBytes uint64  `json:"state_bytes"`
}

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

// RollbackToCheckpoint returns the state of the latest live checkpoint called name and marks
// later ones superseded (kept as history). Money spent since stays spent.
func (x *Execution) RollbackToCheckpoint(name string) (json.RawMessage, error) {
	var out *C.char
	p, n := cstr(name)
	if err := x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_checkpoint_rollback(h, p, n, &out) }); err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}

// LatestCheckpoint returns the latest live checkpoint's state (ErrNotFound when none).
func (x *Execution) LatestCheckpoint() (json.RawMessage, error) {
	var out *C.char
	if err := x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_checkpoint_latest(h, &out) }); err != nil {
		return nil, err
	}
	return json.RawMessage(takeString(out)), nil
}
