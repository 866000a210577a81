// Package app runs a service process: it answers the container health check,
// loads configuration, starts the service, and shuts it down gracefully on
// SIGINT or SIGTERM.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"bazaar/platform/lambda"
	"bazaar/platform/log"
	"bazaar/platform/web"
)

// Service is a runnable service (each service's Main type).
type Service interface {
	// Run starts the service and returns once it is serving.
	Run(ctx context.Context) error
	// Close stops it gracefully and releases its resources.
	Close() error
}

// Main is the whole of a service's func main. newService receives the
// process's logger; it loads and validates configuration.
//
// The images have no shell, curl or openssl, so the binary also carries two
// small tools: "<binary> healthcheck" probes the local /readyz, and
// "<binary> tls-init DIR" makes nginx's self-signed certificate (TLSInit).
//
// Started by AWS Lambda (the binary is the function's bootstrap), it
// reads its secrets from Secrets Manager, starts the service without
// listening, and answers invocations (package lambda) until the execution
// environment ends.
func Main(name string, newService func(logger *slog.Logger) (Service, error)) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "healthcheck":
			addr := os.Getenv("HTTP_ADDR")
			if addr == "" {
				addr = ":8080"
			}
			os.Exit(web.Probe(addr))
		case "tls-init":
			if len(os.Args) != 3 {
				fmt.Fprintln(os.Stderr, "usage: tls-init DIR")
				os.Exit(2)
			}
			if err := TLSInit(os.Args[2], os.Getenv("TLS_HOSTNAMES"), os.Getenv("TLS_OWNER")); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	// Request lines are gathered and written a few times a second;
	// warnings and errors go out at once (see log.Buffer).
	out := log.NewBuffer(os.Stdout, 200*time.Millisecond)
	exit := func(code int) {
		_ = out.Close()
		os.Exit(code)
	}
	logger := log.New(out, name, level)
	slog.SetDefault(logger)
	limitMemory(logger)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	onLambda := lambda.OnLambda()
	if onLambda {
		if err := lambda.LoadSecrets(ctx); err != nil {
			logger.Error("reading secrets", "err", err)
			exit(2)
		}
		// Other services' lambda:// URLs (USERS_JWKS_URL) are direct
		// invocations for every client built on the default transport.
		http.DefaultTransport.(*http.Transport).RegisterProtocol(lambda.InvokeScheme, lambda.NewInvoker())
	}
	svc, err := newService(logger)
	if err != nil {
		logger.Error("invalid configuration", "err", err)
		exit(2)
	}
	if err := svc.Run(ctx); err != nil {
		logger.Error("start failed", "err", err)
		_ = svc.Close()
		exit(1)
	}
	if onLambda {
		l, ok := svc.(lambda.Service)
		if !ok {
			logger.Error("this service does not run on AWS Lambda")
			exit(2)
		}
		go lambda.Serve(l.Lambda(), name, logger, out)
	}
	<-ctx.Done()
	stop()
	logger.Info("shutting down")
	if err := svc.Close(); err != nil {
		logger.Error("shutdown", "err", err)
		exit(1)
	}
	logger.Info("stopped")
	exit(0)
}
