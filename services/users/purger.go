package users

import (
	"context"
	"log/slog"
	"time"

	"bazaar/platform/schedule"
)

// TokenPurger deletes the refresh tokens past their expiry; *Service is one.
type TokenPurger interface {
	PurgeExpiredTokens(ctx context.Context) error
}

var _ TokenPurger = (*Service)(nil)

// Purger deletes expired refresh tokens every Interval, so that the table
// holds live sessions only. Every replica may run one: the deletes are
// idempotent.
type Purger struct {
	cfg PurgerConfig
}

// NewPurger returns a Purger over cfg's dependencies.
func NewPurger(cfg PurgerConfig) *Purger {
	return &Purger{cfg: cfg}
}

// PurgerConfig holds what a Purger depends on and its timing.
type PurgerConfig struct {
	Tokens TokenPurger
	Logger *slog.Logger
	// Interval is the time between two rounds.
	Interval time.Duration
}

// Run purges every Interval until ctx ends.
func (p *Purger) Run(ctx context.Context) {
	schedule.Every(ctx, p.cfg.Interval, p.RunOnce, p.cfg.Logger, "purging expired refresh tokens")
}

// RunOnce runs one round.
func (p *Purger) RunOnce(ctx context.Context) error {
	return p.cfg.Tokens.PurgeExpiredTokens(ctx)
}
