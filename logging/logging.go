// Package logging builds the one zerolog logger every part of casereview writes through.
package logging

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/rs/zerolog"
	sdklog "go.temporal.io/sdk/log"
)

// New returns a logger writing to w: human-readable console lines when w is a terminal, JSON otherwise.
func New(w io.Writer, level zerolog.Level) zerolog.Logger {
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		w = zerolog.ConsoleWriter{Out: f, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// ParseLevel parses a level name such as "info"; it explains the valid names on error.
func ParseLevel(s string) (zerolog.Level, error) {
	l, err := zerolog.ParseLevel(s)
	if err != nil || s == "" {
		return zerolog.InfoLevel, &levelError{s}
	}
	return l, nil
}

type levelError struct{ s string }

func (e *levelError) Error() string {
	return "log level " + `"` + e.s + `"` + " is not one of trace, debug, info, warn, error"
}

// Slog returns a log/slog logger that writes through zl.
func Slog(zl zerolog.Logger) *slog.Logger {
	return slog.New(zerolog.NewSlogHandler(zl))
}

// Temporal returns the Temporal SDK's logger interface writing through zl.
func Temporal(zl zerolog.Logger) sdklog.Logger {
	return sdklog.NewStructuredLogger(Slog(zl))
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
