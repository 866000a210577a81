// Package lambda runs a service as an AWS Lambda function (the
// provided.al2023 custom runtime): the same echo handlers answer API Gateway
// HTTP API events (payload format 2.0) instead of connections, the work a
// long-running process does on a timer runs as scheduled invocations, and
// what the containers read from files and Prometheus is carried the way
// Lambda offers it: secrets from Secrets Manager, metrics as CloudWatch
// Embedded Metric Format lines.
//
// Nothing here runs in the containers: app.Main calls into it only when the
// Lambda runtime API is present (OnLambda).
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	awslambda "github.com/aws/aws-lambda-go/lambda"

	"bazaar/platform/log"
)

// OnLambda reports whether the process is a Lambda function's runtime: the
// Lambda service (and the Runtime Interface Emulator) sets
// AWS_LAMBDA_RUNTIME_API for the bootstrap it starts.
func OnLambda() bool { return os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" }

// Job is work a long-running process does on a timer; on Lambda a schedule
// invokes it.
type Job func(ctx context.Context) error

// Handlers are what a service's function answers.
type Handlers struct {
	// API answers the public routes, reached through API Gateway.
	API http.Handler
	// Internal answers the routes only the shop's own functions may call
	// (InvokeRouteKey); nil when the service has none.
	Internal http.Handler
	// Jobs are the scheduled invocations the service answers, by name:
	// an EventBridge schedule sends {"job": "<name>"}.
	Jobs map[string]Job
}

// Service is a service that runs on Lambda: each service's Main.
type Service interface {
	Lambda() Handlers
}

// Serve answers invocations until the Lambda service ends the execution
// environment; it does not return. Every invocation's log lines and its
// metrics line are written to out before it returns: Lambda freezes the
// process as soon as it has answered, and a line still in a buffer then
// reaches CloudWatch only with a later invocation, or never.
func Serve(h Handlers, service string, logger *slog.Logger, out *log.Buffer) {
	fn := &function{handlers: h, service: service, logger: logger, out: out}
	// The start-up lines, before the first invocation.
	_ = out.Flush()
	awslambda.Start(fn.invoke)
}

type function struct {
	handlers Handlers
	service  string
	logger   *slog.Logger
	out      *log.Buffer
}

// event holds the fields that tell the events apart.
type event struct {
	Job            string          `json:"job"`
	RequestContext json.RawMessage `json:"requestContext"`
}

// jobResult is a scheduled invocation's answer.
type jobResult struct {
	Job        string `json:"job"`
	DurationMS int64  `json:"duration_ms"`
}

func (f *function) invoke(ctx context.Context, raw json.RawMessage) (answer any, err error) {
	start := time.Now()
	defer func() { _ = f.out.Flush() }()
	var e event
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("lambda: an event that is not a JSON object: %w", err)
	}
	switch {
	case e.Job != "":
		job, ok := f.handlers.Jobs[e.Job]
		if !ok {
			f.logger.ErrorContext(ctx, "no such scheduled job", "job", e.Job)
			return nil, fmt.Errorf("lambda: %s has no job %q", f.service, e.Job)
		}
		err := job(ctx)
		elapsed := time.Since(start)
		writeMetrics(f.out, f.service, jobMetrics(e.Job, elapsed, err))
		if err != nil {
			f.logger.ErrorContext(ctx, "scheduled job failed", "job", e.Job, "err", err, "duration_ms", elapsed.Milliseconds())
			return nil, fmt.Errorf("lambda: job %s: %w", e.Job, err)
		}
		f.logger.InfoContext(ctx, "scheduled job done", "job", e.Job, "duration_ms", elapsed.Milliseconds())
		return jobResult{Job: e.Job, DurationMS: elapsed.Milliseconds()}, nil
	case len(e.RequestContext) > 0:
		resp, err := f.serveHTTP(ctx, raw)
		if err != nil {
			return nil, err
		}
		writeMetrics(f.out, f.service, requestMetrics(resp.StatusCode, time.Since(start)))
		return resp, nil
	}
	return nil, errors.New("lambda: an event that is neither an HTTP request nor a scheduled job")
}

// writeMetrics writes one Embedded Metric Format line; CloudWatch Logs
// turns it into metrics.
func writeMetrics(w io.Writer, service string, m emf) {
	b, err := m.line(service, time.Now())
	if err != nil {
		return
	}
	_, _ = w.Write(b)
}
