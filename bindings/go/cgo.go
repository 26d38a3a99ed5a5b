// Package wflo is the Go face of the wflo engine: it meters every LLM call, refuses a call
// BEFORE it could overspend its USD budget, records what each execution did and cost, and
// keeps checkpoints it can roll back to. It calls libwflo (the Rust engine) through cgo.
//
// Build libwflo first (cargo build --release -p wflo-ffi), then point cgo at it, e.g. for a
// self-contained static binary:
//
//	CGO_CFLAGS="-I$WFLO/ffi/include" \
//	CGO_LDFLAGS="$WFLO/target/release/libwflo.a -lm -ldl -lpthread -lrt -lutil -lgcc_s" go build
//
// The current execution travels in a context.Context (WithExecution); Middleware meters the
// official openai-go client (option.WithMiddleware) and any net/http call in the OpenAI or
// Anthropic wire format.
package wflo

/*
#cgo CFLAGS: -I${SRCDIR}/../../ffi/include
#include <stdlib.h>
#include "wflo.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"unsafe"
)

// cstr passes a Go string to C as pointer + length without copying; C never keeps it.
func cstr(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// cbytes passes a byte slice to C as pointer + length.
func cbytes(b []byte) (*C.char, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// takeString copies a string libwflo returned and frees it.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	s := C.GoString(p)
	C.wflo_string_free(p)
	return s
}

// takeJSON decodes a JSON string libwflo returned into v and frees it.
func takeJSON(p *C.char, v any) error {
	text := takeString(p)
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return &Error{Code: CodeInternal, Message: "libwflo returned JSON this package cannot read: " + err.Error()}
	}
	return nil
}

// check turns a status into nil or the typed error for the thread's last error. The OS
// thread is locked around each call so the thread-local message belongs to this call.
func check(status C.wflo_status) error {
	if status == C.WFLO_STATUS_OK {
		return nil
	}
	return lastError(int(status), C.GoString(C.wflo_last_error_json()))
}

// call runs one libwflo function on a locked OS thread and returns its error.
func call(f func() C.wflo_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return check(f())
}

// Version is the version of the libwflo linked in.
func Version() string { return C.GoString(C.wflo_version()) }
