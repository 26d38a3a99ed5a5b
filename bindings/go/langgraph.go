package wflo

/*
#include "wflo.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// LangGraphCheckpointer is a LangGraph saver's index and records kept in the engine — the
// operations of LangGraph's BaseCheckpointSaver (put, put_writes, get, list, …) decided once in
// the engine, for a Go program that stores LangGraph checkpoints in wflo executions, or a
// face built on it. Checkpoints store only their changed channels and take the rest from their
// parents; a task's writes are merged and ordered as LangGraph orders them; a wflo rollback
// makes later checkpoints history (still fetched by id).
//
// Requests and answers are in the engine's wire form (wflo_core::langgraph::wire): JSON naming
// the operation and its fields, with the bytes of the values it holds — LangGraph's serialised
// channel values, never put in JSON — one after another beside it. See Call.
//
// Safe for concurrent use. Close frees it (closing twice is fine); a cleanup frees a
// forgotten one.
type LangGraphCheckpointer struct {
	mu      sync.RWMutex
	ptr     *C.wflo_langgraph
	cleanup runtime.Cleanup
}

// NewLangGraphCheckpointer makes a checkpointer with an empty index; the records it writes
// live in the executions it is called on.
func NewLangGraphCheckpointer() *LangGraphCheckpointer {
	ptr := C.wflo_langgraph_new()
	s := &LangGraphCheckpointer{ptr: ptr}
	s.cleanup = runtime.AddCleanup(s, func(p *C.wflo_langgraph) { C.wflo_langgraph_free(p) }, ptr)
	return s
}

// Close frees the checkpointer. Closing twice is fine; a call afterwards is ErrClosed.
func (s *LangGraphCheckpointer) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr != nil {
		s.cleanup.Stop()
		C.wflo_langgraph_free(s.ptr)
		s.ptr = nil
	}
}

// Call runs one request on exec's LangGraph records and returns the answer the same way.
//
// request is JSON naming the operation ("op": put, put_writes, get, list, pending_writes,
// delete_thread, delete_checkpoints, copy_thread, prune, name, key_of) and its fields; each
// value it holds is given by its index in the request's "values", which lists every value's
// [type, byte length] in order, and values is their bytes one after another:
//
//	{"op": "put", "thread": "t/1", "ns": "", "id": "c1", "parent": null, "checkpoint": 0,
//	 "metadata": 1, "channels": [["a", "1", 2]], "versions": {"a": "1"},
//	 "values": [["json", 17], ["json", 10], ["json", 1]]}
//
// answer is the answer's JSON (null for the operations that answer nothing; for get, the
// checkpoint with its values by index under "values" as [type, byte length]) and answerValues
// their bytes one after another (nil when none). exec may be nil for the operations that
// read no execution (name, key_of). A malformed request — one the engine cannot read, a
// field missing, value lengths that do not add up — is ErrInvalidArgument before anything is
// stored; a closed checkpointer or execution is ErrClosed.
func (s *LangGraphCheckpointer) Call(exec *Execution, request []byte, values []byte) (answer []byte, answerValues []byte, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ptr == nil {
		return nil, nil, &Error{Code: CodeClosed, Message: "closed: the LangGraph checkpointer is closed"}
	}
	var xp *C.wflo_execution
	if exec != nil {
		exec.mu.RLock()
		defer exec.mu.RUnlock()
		if exec.ptr == nil {
			return nil, nil, &Error{Code: CodeClosed, Message: "closed: the execution handle is closed"}
		}
		xp = exec.ptr
	}
	rp, rn := cbytes(request)
	vp, vn := cbytes(values)
	var out *C.char
	var data *C.uint8_t
	var size C.size_t
	ptr := s.ptr
	if err := call(func() C.wflo_status {
		return C.wflo_langgraph_call(ptr, xp, rp, rn, (*C.uint8_t)(unsafe.Pointer(vp)), vn, &out, &data, &size)
	}); err != nil {
		return nil, nil, err
	}
	answer = []byte(takeString(out))
	if data != nil {
		// make+copy rather than C.GoBytes, whose length is a C int.
		answerValues = make([]byte, int(size))
		copy(answerValues, unsafe.Slice((*byte)(unsafe.Pointer(data)), int(size)))
		C.wflo_bytes_free(data, size)
	}
	return answer, answerValues, nil
}
