package lambda

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go/aws-http-auth/credentials"
	"github.com/aws/smithy-go/aws-http-auth/sigv4"
)

// InvokeScheme is the URL scheme of a function reached by direct
// invocation: lambda://<function name or ARN>/<path>, wherever a service
// is configured with another's HTTP address (CATALOG_INTERNAL_URL,
// USERS_JWKS_URL).
const InvokeScheme = "lambda"

// IsInvokeURL reports whether s is a lambda:// URL naming a function.
func IsInvokeURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == InvokeScheme && u.Host != ""
}

// maxAnswer bounds a function's answer (Lambda's own limit is 6 MB).
const maxAnswer = 6 << 20

// Invoker is an http.RoundTripper that carries a request for a
// lambda:// URL to that function by the Lambda Invoke API, as an API
// Gateway v2 event with InvokeRouteKey, and turns its answer back into a
// response. No route and no network path from the internet lead to the
// internal API this way: the caller's IAM role needs lambda:InvokeFunction
// on the function, and the request is signed with the role's credentials.
type Invoker struct {
	// HTTP carries the Invoke calls (http.DefaultClient's transport when
	// nil; never this Invoker).
	HTTP *http.Client
	// Endpoint is the Lambda API, e.g. https://lambda.eu-west-1.amazonaws.com.
	Endpoint string
	// Region signs the calls.
	Region string
	// Credentials are the function role's, read at each call.
	Credentials func() credentials.Credentials
}

// NewInvoker returns an Invoker set up from the variables Lambda gives a
// function: AWS_REGION and the role's AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. AWS_ENDPOINT_URL_LAMBDA, the
// AWS SDKs' variable for the same purpose, replaces the endpoint (a VPC
// endpoint's name, or the test's emulator).
func NewInvoker() *Invoker {
	region := os.Getenv("AWS_REGION")
	endpoint := os.Getenv("AWS_ENDPOINT_URL_LAMBDA")
	if endpoint == "" {
		endpoint = "https://lambda." + region + ".amazonaws.com"
	}
	return &Invoker{
		HTTP:     &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		Endpoint: strings.TrimSuffix(endpoint, "/"),
		Region:   region,
		Credentials: func() credentials.Credentials {
			return credentials.Credentials{
				AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
				SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
				SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
			}
		},
	}
}

// RoundTrip implements http.RoundTripper. A function that fails (its
// handler returned an error, or it timed out) answers 502, which callers
// treat as a failed attempt.
func (t *Invoker) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != InvokeScheme || r.URL.Host == "" {
		return nil, fmt.Errorf("lambda: %s is not a lambda:// URL", r.URL.Redacted())
	}
	payload, err := invokeEvent(r)
	if r.Body != nil {
		r.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	call, err := http.NewRequestWithContext(r.Context(), http.MethodPost,
		t.Endpoint+"/2015-03-31/functions/"+url.PathEscape(r.URL.Host)+"/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("lambda: invoke: %w", err)
	}
	call.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(payload)
	err = sigv4.New().SignRequest(&sigv4.SignRequestInput{
		Request: call, PayloadHash: sum[:], Credentials: t.Credentials(), Service: "lambda", Region: t.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("lambda: sign invoke: %w", err)
	}
	resp, err := t.HTTP.Do(call)
	if err != nil {
		return nil, fmt.Errorf("lambda: invoke %s: %w", r.URL.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("lambda: invoke %s: %w", r.URL.Host, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("lambda: invoke %s: the Lambda API answered %d: %.200s", r.URL.Host, resp.StatusCode, body)
	}
	if fnErr := resp.Header.Get("X-Amz-Function-Error"); fnErr != "" {
		return answer(r, http.StatusBadGateway, nil, fmt.Sprintf("%s failed (%s): %.200s", r.URL.Host, fnErr, body)), nil
	}
	var ev events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(body, &ev); err != nil {
		return answer(r, http.StatusBadGateway, nil, fmt.Sprintf("%s answered something that is not an HTTP response: %.200s", r.URL.Host, body)), nil
	}
	h := http.Header{}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	for _, c := range ev.Cookies {
		h.Add("Set-Cookie", c)
	}
	text := ev.Body
	if ev.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return answer(r, http.StatusBadGateway, nil, "the body is not base64"), nil
		}
		text = string(b)
	}
	return answer(r, ev.StatusCode, h, text), nil
}

func answer(r *http.Request, status int, h http.Header, body string) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// invokeEvent is the API Gateway v2 event for r.
func invokeEvent(r *http.Request) ([]byte, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1)); err != nil {
			return nil, fmt.Errorf("lambda: read request body: %w", err)
		}
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       InvokeRouteKey,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   InvokeRouteKey,
			DomainName: r.URL.Host,
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: r.Method, Path: r.URL.Path},
		},
	}
	for k, vs := range r.Header {
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if len(body) > 0 {
		ev.Body = base64.StdEncoding.EncodeToString(body)
		ev.IsBase64Encoded = true
	}
	return json.Marshal(ev)
}
