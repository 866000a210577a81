package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// InvokeRouteKey is the route key of the events the shop's functions send
// each other by direct invocation (Invoker). API Gateway cannot send it:
// its route keys are "$default" or "METHOD /path". Only these events reach
// the internal routes, which still require the internal token; everything
// API Gateway sends goes to the public API, whatever its path.
const InvokeRouteKey = "$invoke"

// internalPrefix is where the internal routes live (the internal port of
// the containers).
const internalPrefix = "/internal/"

// maxBody bounds a request body, as the containers' body limit does;
// API Gateway itself refuses payloads over 10 MB.
const maxBody = 10 << 20

func (f *function) serveHTTP(ctx context.Context, raw json.RawMessage) (events.APIGatewayV2HTTPResponse, error) {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("lambda: decode HTTP event: %w", err)
	}
	r, err := NewRequest(ctx, &ev)
	if err != nil {
		// A malformed event is API Gateway's or a caller's bug, not the
		// client's; answer like a server would to a request it cannot read.
		f.logger.ErrorContext(ctx, "unreadable HTTP event", "err", err)
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest}, nil
	}
	h := f.handlers.API
	if ev.RouteKey == InvokeRouteKey && strings.HasPrefix(r.URL.Path, internalPrefix) && f.handlers.Internal != nil {
		h = f.handlers.Internal
	}
	w := newResponseWriter()
	h.ServeHTTP(w, r)
	return w.event(), nil
}

// NewRequest turns an API Gateway v2 (HTTP API, payload format 2.0) event
// into the request it stands for.
func NewRequest(ctx context.Context, ev *events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("lambda: body: %w", err)
		}
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("lambda: body of %d bytes", len(body))
	}
	target := ev.RawPath
	if target == "" {
		target = ev.RequestContext.HTTP.Path
	}
	if !strings.HasPrefix(target, "/") {
		return nil, fmt.Errorf("lambda: path %q", target)
	}
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("lambda: no method")
	}
	r, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("lambda: %w", err)
	}
	r.RequestURI = target
	r.ContentLength = int64(len(body))
	// API Gateway lowercases header names and joins a repeated header's
	// values with commas; the cookies come apart from the headers.
	for k, v := range ev.Headers {
		r.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	r.Host = r.Header.Get("Host")
	if r.Host == "" {
		r.Host = ev.RequestContext.DomainName
	}
	// The client's address as API Gateway saw it. echo trusts
	// X-Forwarded-For only from private addresses, so a client on the
	// internet cannot choose the address that rate limits count.
	if ip := ev.RequestContext.HTTP.SourceIP; ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	// The request id API Gateway logs, unless the client sent one.
	if r.Header.Get("X-Request-Id") == "" && ev.RequestContext.RequestID != "" {
		r.Header.Set("X-Request-Id", ev.RequestContext.RequestID)
	}
	return r, nil
}

// responseWriter collects a handler's answer for the response event.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newResponseWriter() *responseWriter {
	return &responseWriter{header: http.Header{}}
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// Flush is a no-op: the answer goes out whole, when the handler returns.
func (w *responseWriter) Flush() {}

// event is the response in API Gateway's form: Set-Cookie headers as
// cookies, the others joined with commas, and a body that is not UTF-8
// text in base64.
func (w *responseWriter) event() events.APIGatewayV2HTTPResponse {
	resp := events.APIGatewayV2HTTPResponse{StatusCode: w.status, Headers: map[string]string{}}
	if resp.StatusCode == 0 {
		resp.StatusCode = http.StatusOK
	}
	for k, vs := range w.header {
		if k == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ", ")
	}
	if b := w.body.Bytes(); utf8.Valid(b) {
		resp.Body = string(b)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(b)
		resp.IsBase64Encoded = true
	}
	return resp
}
