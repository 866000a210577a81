// Package schedule runs a background type's rounds in a container: the
// Run(ctx) of the domain types whose RunOnce a schedule invokes on AWS
// Lambda.
package schedule

import (
	"context"
	"log/slog"
	"time"
)

// Every runs round every interval until ctx ends. A round's error is
// logged as a warning that begins with what, unless ctx has ended; the
// next round comes all the same.
func Every(ctx context.Context, interval time.Duration, round func(context.Context) error, logger *slog.Logger, what string) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := round(ctx); err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, what, "err", err)
			}
		}
	}
}
