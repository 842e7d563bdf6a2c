package sfu

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// pionLoggerFactory routes pion's logs into slog one level down: its info is chatty per
// connection (debug here) and its warnings are mostly routine teardown noise such as
// "stream is already closed" (info here), which must not drown real warnings.
type pionLoggerFactory struct{ log *slog.Logger }

func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{log: f.log.With("pion", scope)}
}

type pionLogger struct{ log *slog.Logger }

func (l pionLogger) emit(level slog.Level, msg string) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, msg)
	}
}

// emitf formats only when the level is enabled: pion passes live structs (tracks,
// transceivers) to its debug logs, and formatting them unconditionally would read fields
// other goroutines are writing.
func (l pionLogger) emitf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(string)              {}
func (l pionLogger) Tracef(string, ...any)     {}
func (l pionLogger) Debug(m string)            { l.emit(slog.LevelDebug-4, m) }
func (l pionLogger) Debugf(f string, a ...any) { l.emitf(slog.LevelDebug-4, f, a...) }
func (l pionLogger) Info(m string)             { l.emit(slog.LevelDebug, m) }
func (l pionLogger) Infof(f string, a ...any)  { l.emitf(slog.LevelDebug, f, a...) }
func (l pionLogger) Warn(m string)             { l.emit(slog.LevelInfo, m) }
func (l pionLogger) Warnf(f string, a ...any)  { l.emitf(slog.LevelInfo, f, a...) }
func (l pionLogger) Error(m string)            { l.emit(slog.LevelWarn, m) }
func (l pionLogger) Errorf(f string, a ...any) { l.emitf(slog.LevelWarn, f, a...) }
