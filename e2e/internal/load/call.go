package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Call is one API request of a load run: it reads the whole answer and
// returns the outcome, with the body for callers that need it. An error
// status without a problem+json body counts as a failure.
func Call(ctx context.Context, c *http.Client, base, method, path, token string, body any, headers ...string) (Outcome, []byte) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Outcome{Err: err}, nil
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return Outcome{Err: err}, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return Outcome{Err: err}, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	out := Outcome{Status: resp.StatusCode, Err: err}
	if err == nil && resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		out.Err = fmt.Errorf("status %d without problem+json: %.200s", resp.StatusCode, data)
	}
	return out, data
}
