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

func (l pionLogger) Trace(string)              {}
func (l pionLogger) Tracef(string, ...any)     {}
func (l pionLogger) Debug(m string)            { l.emit(slog.LevelDebug-4, m) }
func (l pionLogger) Debugf(f string, a ...any) { l.emit(slog.LevelDebug-4, fmt.Sprintf(f, a...)) }
func (l pionLogger) Info(m string)             { l.emit(slog.LevelDebug, m) }
func (l pionLogger) Infof(f string, a ...any)  { l.emit(slog.LevelDebug, fmt.Sprintf(f, a...)) }
func (l pionLogger) Warn(m string)             { l.emit(slog.LevelInfo, m) }
func (l pionLogger) Warnf(f string, a ...any)  { l.emit(slog.LevelInfo, fmt.Sprintf(f, a...)) }
func (l pionLogger) Error(m string)            { l.emit(slog.LevelWarn, m) }
func (l pionLogger) Errorf(f string, a ...any) { l.emit(slog.LevelWarn, fmt.Sprintf(f, a...)) }
