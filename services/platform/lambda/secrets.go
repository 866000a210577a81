package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// secretSuffix marks the variables that name a Secrets Manager secret:
// KEY_SECRET=<secret ARN or name>, or <secret>#<field> for one field of a
// JSON secret (the password of {"username": ..., "password": ...}, the
// form RDS Proxy reads).
const secretSuffix = "_SECRET"

// LoadSecrets fetches each secret a KEY_SECRET variable names and hands it
// to the service the way the containers do: as a file that KEY_FILE names
// (config.Env.Secret), here in a directory of the execution environment's
// own /tmp that only this process can read. So the configuration code is
// the same in both worlds, and production's rule that secrets come from
// files holds.
//
// The secrets are read through the AWS Parameters and Secrets Lambda
// Extension (a layer of the function), which answers on localhost and
// caches, so the binary carries no AWS SDK and the read costs a
// millisecond on a warm extension.
func LoadSecrets(ctx context.Context) error {
	var names []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(k, secretSuffix) && v != "" {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil
	}
	dir, err := os.MkdirTemp("", "secrets-")
	if err != nil {
		return fmt.Errorf("lambda: secrets: %w", err)
	}
	ext := newSecretsExtension()
	var errs []error
	for _, name := range names {
		key := strings.TrimSuffix(name, secretSuffix)
		if os.Getenv(key+"_FILE") != "" {
			errs = append(errs, fmt.Errorf("lambda: %s and %s_FILE are both set", name, key))
			continue
		}
		value, err := ext.get(ctx, os.Getenv(name))
		if err != nil {
			errs = append(errs, fmt.Errorf("lambda: %s: %w", name, err))
			continue
		}
		file := filepath.Join(dir, key)
		if err := os.WriteFile(file, []byte(value), 0o600); err != nil {
			errs = append(errs, fmt.Errorf("lambda: %s: %w", name, err))
			continue
		}
		if err := os.Setenv(key+"_FILE", file); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// secretsExtension reads secrets from the Parameters and Secrets Lambda
// Extension's local HTTP API.
type secretsExtension struct {
	base  string // http://localhost:2773
	token string // the session token, which the extension requires
	http  *http.Client
}

func newSecretsExtension() *secretsExtension {
	port := os.Getenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
	if port == "" {
		port = "2773"
	}
	return &secretsExtension{
		base:  "http://localhost:" + port,
		token: os.Getenv("AWS_SESSION_TOKEN"),
		http:  &http.Client{Timeout: 5 * time.Second},
	}
}

// get returns a secret's string, or one field of it: ref is <id> or
// <id>#<field>. A few quick retries cover an extension still starting.
func (s *secretsExtension) get(ctx context.Context, ref string) (string, error) {
	id, field, _ := strings.Cut(ref, "#")
	var last error
	for attempt := range 5 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			}
		}
		v, err := s.fetch(ctx, id)
		if err == nil {
			return pick(v, field)
		}
		last = err
	}
	return "", last
}

func (s *secretsExtension) fetch(ctx context.Context, id string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/secretsmanager/get?secretId="+url.QueryEscape(id), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-Aws-Parameters-Secrets-Token", s.token)
	resp, err := s.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		// The answer may quote the request, never the secret.
		return "", fmt.Errorf("the secrets extension answered %d: %.200s", resp.StatusCode, body)
	}
	var v struct {
		SecretString *string `json:"SecretString"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.SecretString == nil {
		return "", errors.New("the secrets extension's answer has no SecretString")
	}
	return *v.SecretString, nil
}

// pick returns the secret, or the field of a JSON secret.
func pick(secret, field string) (string, error) {
	if field == "" {
		return secret, nil
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(secret), &fields); err != nil {
		return "", fmt.Errorf("field %q: the secret is not a JSON object", field)
	}
	v, ok := fields[field].(string)
	if !ok || v == "" {
		return "", fmt.Errorf("the secret has no string field %q", field)
	}
	return v, nil
}
