// Package log builds the JSON slog logger every service uses and carries the
// request id through contexts, so that any line logged with a request's
// context names the request.
package log

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

type ctxKey struct{}

// WithRequestID returns a context carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a JSON logger writing to w that tags each line with the
// service name and, when the context has one, the request id. When w is a
// *Buffer, lines of level Warn and above are written through at once.
func New(w io.Writer, service string, level slog.Level) *slog.Logger {
	h := handler{Handler: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})}
	h.buffer, _ = w.(*Buffer)
	return slog.New(h).With("service", service)
}

type handler struct {
	slog.Handler
	buffer *Buffer // or nil
}

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	err := h.Handler.Handle(ctx, r)
	if h.buffer != nil && r.Level >= slog.LevelWarn {
		err = errors.Join(err, h.buffer.Flush())
	}
	return err
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs), h.buffer}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.Handler.WithGroup(name), h.buffer}
}
