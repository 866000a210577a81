package load

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BrowserClient is a load client that resends a request the way browsers
// do: when it went out on a reused keep-alive connection that the
// server closed before sending any byte of an answer. HTTP/1.1 allows a
// server to close an idle keep-alive connection at any time (nginx closes
// them all when it reloads), so a request written at that moment meets a
// closed connection without the server having read it; browsers then resend
// it on another connection, POST included, and their users never see it.
// Go's http.Transport resends only requests it knows to be idempotent, so a
// client without this would count failures a person would not see.
//
// Every resend is recorded (see Resent), so a test can report how often it
// happened. A request is resent at most maxResends times, and only while
// each failure is of that kind.
type BrowserClient struct {
	*http.Client
	rt *resendTransport
}

// Resend is one request that BrowserClient sent again.
type Resend struct {
	At     time.Time
	Method string
	URL    string
	Err    error // what the attempt before got
}

// NewBrowserClient returns a client like NewClient's that resends as
// browsers do.
func NewBrowserClient(conns int, timeout time.Duration) *BrowserClient {
	c := NewClient(conns, timeout)
	rt := &resendTransport{base: c.Transport}
	c.Transport = rt
	return &BrowserClient{Client: c, rt: rt}
}

// Resent returns the requests resent so far, in the order they were.
func (c *BrowserClient) Resent() []Resend {
	c.rt.mu.Lock()
	defer c.rt.mu.Unlock()
	return append([]Resend(nil), c.rt.resent...)
}

type resendTransport struct {
	base   http.RoundTripper
	mu     sync.Mutex
	resent []Resend
}

// maxResends is how many times a request is sent again, as Chromium
// gives up after two retries: nginx's reload closes every idle connection
// at once, so the first resend may meet another of them.
const maxResends = 2

func (t *resendTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.send(req)
	for n := 0; n < maxResends && err != nil; n++ {
		again := t.resendable(req, err)
		if again == nil {
			break
		}
		resp, err = t.send(again)
	}
	return resp, err
}

// unanswered is the failure of a request sent on a reused connection that
// was closed before any byte of an answer: the one a browser resends.
type unanswered struct{ err error }

func (u *unanswered) Error() string { return u.err.Error() }
func (u *unanswered) Unwrap() error { return u.err }

// send sends req once and marks its failure unanswered when a browser
// would send it again.
func (t *resendTransport) send(req *http.Request) (*http.Response, error) {
	var mu sync.Mutex
	var reused, answered bool
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			mu.Lock()
			reused = info.Reused
			mu.Unlock()
		},
		GotFirstResponseByte: func() {
			mu.Lock()
			answered = true
			mu.Unlock()
		},
	}
	resp, err := t.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	mu.Lock()
	defer mu.Unlock()
	if err != nil && reused && !answered && closedUnanswered(err) && req.Context().Err() == nil {
		return resp, &unanswered{err}
	}
	return resp, err
}

// resendable returns a copy of req to send again after err, recorded in
// Resent, or nil when a browser would not resend it.
func (t *resendTransport) resendable(req *http.Request, err error) *http.Request {
	var u *unanswered
	if !errors.As(err, &u) {
		return nil
	}
	again := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil // the body cannot be sent again
		}
		body, gerr := req.GetBody()
		if gerr != nil {
			return nil
		}
		again.Body = body
	}
	t.mu.Lock()
	t.resent = append(t.resent, Resend{At: time.Now(), Method: req.Method, URL: req.URL.String(), Err: u.err})
	t.mu.Unlock()
	return again
}

// closedUnanswered reports whether err says the connection was closed
// under the request: the end of the stream, a reset, or a write into a
// closed connection (not, say, a timeout, which a browser does not retry).
func closedUnanswered(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		// net/http's errServerClosedIdle, which it does not export.
		strings.Contains(err.Error(), "server closed idle connection")
}
