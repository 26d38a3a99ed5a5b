package wflo

// The engine's events (reserved, refused, clamped, settled, overrun, checkpoint, rollback,
// alert, lease_reclaimed) routed to log/slog, one record each. The lines are the engine's:
// ids, labels, model names, token counts and amounts — never a prompt, a reply, a key or a
// header value.

/*
#include <stdint.h>
#include "wflo.h"

extern void wfloGoLog(void *, int, char *, size_t);

static wflo_status wflo_go_log_to(const char *level, size_t level_len, uintptr_t handle) {
	return wflo_log_to(level, level_len, handle ? (wflo_log_fn)wfloGoLog : NULL, (void *)handle);
}
*/
import "C"

import (
	"context"
	"log/slog"
	"os"
	"runtime/cgo"
	"strings"
	"sync"
)

// LevelTrace is the slog level of the engine's finest events (below slog.LevelDebug).
const LevelTrace = slog.LevelDebug - 4

// The engine's levels (wflo_log_fn's 1 … 5) as slog's, and the words that begin its lines.
var logLevels = [...]struct {
	slog slog.Level
	word string
}{
	1: {slog.LevelError, "error"},
	2: {slog.LevelWarn, "warn"},
	3: {slog.LevelInfo, "info"},
	4: {slog.LevelDebug, "debug"},
	5: {LevelTrace, "trace"},
}

// logSink is where the route sends records: a logger, or nil for slog.Default() at the
// time of each record.
type logSink struct{ logger *slog.Logger }

func (s *logSink) log(level int, line string) {
	if level < 1 || level >= len(logLevels) {
		level = len(logLevels) - 1
	}
	l := logLevels[level]
	logger := s.logger
	if logger == nil {
		logger = slog.Default()
	}
	// slog shows the level itself: the message is the line after the engine's level word.
	logger.Log(context.Background(), l.slog, strings.TrimPrefix(line, l.word+" "))
}

var logRoute struct {
	mu      sync.Mutex
	handle  cgo.Handle // the sink libwflo calls now; 0: none
	set     bool       // SetLogger was called: WFLO_LOG's default no longer applies
	envOnce sync.Once
	envErr  error
}

// SetLogger sends the engine's events at level and above to logger, for the whole process:
// an event at the engine's error, warn, info, debug or trace level becomes a record at
// slog.LevelError, LevelWarn, LevelInfo, LevelDebug or LevelTrace (the logger's handler
// filters as well). A nil logger silences them. It may be called again to change either;
// once it returns, the previous logger receives no more records. Without SetLogger, a
// process whose WFLO_LOG is set (off, error, warn, info, debug, trace) logs to
// slog.Default() at that level from its first Open.
func SetLogger(logger *slog.Logger, level slog.Level) error {
	logRoute.mu.Lock()
	defer logRoute.mu.Unlock()
	logRoute.set = true
	if logger == nil {
		return routeLog("off", nil)
	}
	return routeLog(levelName(level), &logSink{logger: logger})
}

// levelName is the engine's name for the finest of its levels at or above level.
func levelName(level slog.Level) string {
	for i := len(logLevels) - 1; i >= 1; i-- {
		if level <= logLevels[i].slog {
			return logLevels[i].word
		}
	}
	return "off"
}

// routeLog points the engine's route at sink ("" level: WFLO_LOG's), then frees the previous
// sink's handle: libwflo has stopped calling it when wflo_log_to returns. Called with
// logRoute.mu held.
func routeLog(level string, sink *logSink) error {
	var h cgo.Handle
	if sink != nil {
		h = cgo.NewHandle(sink)
	}
	var lp *C.char
	var ln C.size_t
	if level != "" {
		lp, ln = cstr(level)
	}
	if err := call(func() C.wflo_status { return C.wflo_go_log_to(lp, ln, C.uintptr_t(h)) }); err != nil {
		if h != 0 {
			h.Delete()
		}
		return err
	}
	if logRoute.handle != 0 {
		logRoute.handle.Delete()
	}
	logRoute.handle = h
	return nil
}

// logFromEnv routes the engine's events to slog.Default() at WFLO_LOG's level, once, unless
// SetLogger came first; the engine reads and checks the variable.
func logFromEnv() error {
	logRoute.envOnce.Do(func() {
		if os.Getenv("WFLO_LOG") == "" {
			return
		}
		logRoute.mu.Lock()
		defer logRoute.mu.Unlock()
		if !logRoute.set {
			logRoute.envErr = routeLog("", &logSink{})
		}
	})
	return logRoute.envErr
}
