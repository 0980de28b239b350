package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
)

// newLogger is the JSON logger every command writes to stdout. Packages
// add their own context with With ("target", "step"), and several layers
// add the same key (the pipeline and the provider both add "target"):
// onceHandler keeps the first value of each key, so a line carries each
// key once and a log query on it finds one value.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(&onceHandler{h: slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})})
}

type onceHandler struct {
	h    slog.Handler
	keys []string // keys the handler's With attributes set
}

func (o *onceHandler) Enabled(ctx context.Context, l slog.Level) bool { return o.h.Enabled(ctx, l) }

func (o *onceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	keys := slices.Clone(o.keys)
	var keep []slog.Attr
	for _, a := range as {
		if !slices.Contains(keys, a.Key) {
			keys = append(keys, a.Key)
			keep = append(keep, a)
		}
	}
	return &onceHandler{h: o.h.WithAttrs(keep), keys: keys}
}

// WithGroup starts a namespace of its own: keys inside it can't clash
// with the ones outside.
func (o *onceHandler) WithGroup(name string) slog.Handler {
	return &onceHandler{h: o.h.WithGroup(name)}
}

func (o *onceHandler) Handle(ctx context.Context, r slog.Record) error {
	seen := slices.Clone(o.keys)
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if !slices.Contains(seen, a.Key) {
			seen = append(seen, a.Key)
			out.AddAttrs(a)
		}
		return true
	})
	return o.h.Handle(ctx, out)
}
