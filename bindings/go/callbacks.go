package wflo

// The Go functions libwflo calls back: budget alerts (telemetry.go) and log lines
// (events.go). A file with //export may only declare in its preamble, so the C helpers that
// pass these functions to libwflo live beside the code that uses them.

/*
#include <stddef.h>
*/
import "C"

import (
	"encoding/json"
	"log/slog"
	"runtime/cgo"
	"unsafe"
)

// wfloGoAlert receives one alert for the listener whose handle is userData. It runs inside
// the libwflo call that settled the spend, so a panic must stop here: it may not unwind
// through libwflo's frames.
//
//export wfloGoAlert
func wfloGoAlert(userData unsafe.Pointer, alertJSON *C.char, n C.size_t) {
	defer recoverCallback("alert listener")
	var a Alert
	if err := json.Unmarshal(C.GoBytes(unsafe.Pointer(alertJSON), C.int(n)), &a); err != nil {
		slog.Default().Error("wflo: an alert this package cannot read", "error", err)
		return
	}
	cgo.Handle(uintptr(userData)).Value().(func(Alert))(a)
}

// wfloGoLog receives one of the engine's log lines for the sink whose handle is userData.
//
//export wfloGoLog
func wfloGoLog(userData unsafe.Pointer, level C.int, line *C.char, n C.size_t) {
	defer recoverCallback("log handler")
	cgo.Handle(uintptr(userData)).Value().(*logSink).log(int(level), C.GoStringN(line, C.int(n)))
}

// recoverCallback stops a panic of a callback at the boundary (the engine ignores a failed
// listener the same way) and reports it to slog's default logger.
func recoverCallback(what string) {
	if r := recover(); r != nil {
		slog.Default().Error("wflo: a panic in the "+what+" was recovered", "panic", r)
	}
}
