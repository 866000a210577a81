package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Registrations of one email racing each other: one account is created and
// every other request gets the taken-email 409, whether it was refused by
// the check before hashing or by the unique index after it; never a 500.
func TestConcurrentRegistrationsOfOneEmail(t *testing.T) {
	s := startMain(t, nil)
	email := uniqueEmail("Race")
	const n = 8
	type result struct {
		status      int
		contentType string
		body        []byte
		err         error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			e := email
			if i%2 == 1 {
				e = strings.ToUpper(email)
			}
			b, _ := json.Marshal(map[string]string{"email": e, "password": "correct horse", "name": fmt.Sprint("Racer ", i)})
			<-start
			resp, err := http.Post(s.base+"/api/users/register", "application/json", bytes.NewReader(b))
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			results[i] = result{resp.StatusCode, resp.Header.Get("Content-Type"), body, err}
		})
	}
	close(start)
	wg.Wait()

	created := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("request %d: %v", i, r.err)
		}
		switch r.status {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			if r.contentType != "application/problem+json" {
				t.Errorf("request %d: Content-Type %q", i, r.contentType)
			}
			var p struct {
				Type   string `json:"type"`
				Errors []struct {
					Field   string `json:"field"`
					Message string `json:"message"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatalf("request %d: body %s: %v", i, r.body, err)
			}
			if p.Type != "/problems/conflict" || len(p.Errors) != 1 || p.Errors[0].Field != "email" || p.Errors[0].Message != "is already registered" {
				t.Errorf("request %d: conflict %s", i, r.body)
			}
		default:
			t.Errorf("request %d: %d %s, want 201 or 409", i, r.status, r.body)
		}
	}
	if created != 1 {
		t.Errorf("%d registrations created, want 1", created)
	}
}

// Past REGISTER_MAX_PER_IP accounts in an hour, a client address is refused
// with a 429 problem and the seconds to wait; other addresses are not.
func TestRegistrationLimitPerClient(t *testing.T) {
	s := startMain(t, map[string]string{"REGISTER_MAX_PER_IP": "2"})
	register := func(ip string) response {
		return s.call(http.MethodPost, "/api/users/register", map[string]string{"email": uniqueEmail("many"), "password": "correct horse", "name": "Many"},
			"X-Forwarded-For", ip)
	}
	for range 2 {
		want(t, register("10.5.0.1"), http.StatusCreated, "")
	}
	r := register("10.5.0.1")
	want(t, r, http.StatusTooManyRequests, "too-many-requests")
	if got := r.Header.Get("Retry-After"); got != "3600" {
		t.Errorf("Retry-After = %q, want 3600", got)
	}
	want(t, register("10.5.0.2"), http.StatusCreated, "")
}
