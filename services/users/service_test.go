package users_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"bazaar/platform/apperr"
	"bazaar/users"
)

// countingHasher is a fast stand-in for the argon2id hasher that counts the
// hashes asked of it.
type countingHasher struct {
	mu     sync.Mutex
	hashes int
}

func (h *countingHasher) Hash(_ context.Context, password string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hashes++
	return "fake-hash:" + password, nil
}

func (h *countingHasher) Verify(_ context.Context, password, encoded string) (bool, error) {
	return encoded == "fake-hash:"+password, nil
}

func (h *countingHasher) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hashes
}

// registrationStore is an in-memory users.Store for the registration path;
// the methods it does not implement panic through the nil embedded Store.
type registrationStore struct {
	users.Store

	mu     sync.Mutex
	emails map[string]bool // by EmailKey, as the unique index lower(email)
	// raceLost makes CreateUser find the email taken although
	// EmailRegistered did not: another registration won in between.
	raceLost bool
	// checkErr is returned by EmailRegistered.
	checkErr error
	creates  int
}

func (s *registrationStore) EmailRegistered(_ context.Context, email string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.checkErr != nil {
		return false, s.checkErr
	}
	return s.emails[users.EmailKey(email)], nil
}

func (s *registrationStore) CreateUser(_ context.Context, u users.User, _ string) (users.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates++
	if s.raceLost || s.emails[users.EmailKey(u.Email)] {
		return users.User{}, users.ErrEmailTaken
	}
	s.emails[users.EmailKey(u.Email)] = true
	u.CreatedAt = time.Now()
	return u, nil
}

// registrationsPerClient is the registration limit of the services that
// newRegistrationService returns.
const registrationsPerClient = 3

// newRegistrationService returns a service over store whose hasher has not
// been called yet (NewService's own dummy hash is not counted).
func newRegistrationService(t *testing.T, store *registrationStore) (*users.Service, *countingHasher) {
	t.Helper()
	h := &countingHasher{}
	svc, err := users.NewService(users.ServiceConfig{
		Store:                  store,
		Hasher:                 h,
		Registrations:          users.NewLimiter(time.Hour, 100),
		RegistrationsPerClient: registrationsPerClient,
		Logger:                 slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:                    func() time.Time { return t0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.hashes = 0
	h.mu.Unlock()
	return svc, h
}

// wantEmailTaken fails the test unless err is the 409 for a taken email,
// with its field error, exactly as clients have always seen it.
func wantEmailTaken(t *testing.T, err error) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Conflict {
		t.Fatalf("Register = %v, want a Conflict", err)
	}
	if ae.Message != "An account with this email already exists." ||
		len(ae.Fields) != 1 || ae.Fields[0] != (apperr.FieldError{Field: "email", Message: "is already registered"}) {
		t.Errorf("Register = %#v, want the taken-email conflict", ae)
	}
}

// A registration with a taken email is refused before its password is
// hashed, so that such requests cannot keep the hashing slots from logins.
func TestRegisterTakenEmailDoesNotHash(t *testing.T) {
	store := &registrationStore{emails: map[string]bool{"ada@example.com": true}}
	svc, h := newRegistrationService(t, store)
	for _, email := range []string{"ada@example.com", "Ada@Example.COM", "  ADA@EXAMPLE.COM "} {
		_, err := svc.Register(context.Background(), users.Registration{Email: email, Password: "correct horse", Name: "Eve"}, "10.0.0.1")
		wantEmailTaken(t, err)
	}
	if n := h.count(); n != 0 {
		t.Errorf("%d passwords hashed for taken emails, want 0", n)
	}
	if store.creates != 0 {
		t.Errorf("CreateUser called %d times for taken emails, want 0", store.creates)
	}
}

// A free email is hashed once and stored.
func TestRegisterFreeEmailHashesOnce(t *testing.T) {
	store := &registrationStore{emails: map[string]bool{}}
	svc, h := newRegistrationService(t, store)
	u, err := svc.Register(context.Background(), users.Registration{Email: " Ada@Example.com ", Password: "correct horse", Name: "Ada"}, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "Ada@Example.com" || u.Role != "customer" {
		t.Errorf("registered %+v", u)
	}
	if n := h.count(); n != 1 {
		t.Errorf("%d passwords hashed, want 1", n)
	}
}

// When another registration of the email wins between the check and the
// insert, the store's unique violation still answers the same 409.
func TestRegisterLostRaceIsConflict(t *testing.T) {
	store := &registrationStore{emails: map[string]bool{}, raceLost: true}
	svc, h := newRegistrationService(t, store)
	_, err := svc.Register(context.Background(), users.Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"}, "10.0.0.1")
	wantEmailTaken(t, err)
	if n := h.count(); n != 1 {
		t.Errorf("%d passwords hashed, want 1", n)
	}
}

// A failing check is an error, not a free email, and costs no hash.
func TestRegisterCheckFailureDoesNotHash(t *testing.T) {
	outage := errors.New("database unreachable")
	store := &registrationStore{emails: map[string]bool{}, checkErr: outage}
	svc, h := newRegistrationService(t, store)
	_, err := svc.Register(context.Background(), users.Registration{Email: "ada@example.com", Password: "correct horse", Name: "Ada"}, "10.0.0.1")
	if !errors.Is(err, outage) {
		t.Fatalf("Register = %v, want the store's error", err)
	}
	if n := h.count(); n != 0 || store.creates != 0 {
		t.Errorf("%d hashes and %d creates after a failed check, want 0 and 0", n, store.creates)
	}
}

// Invalid registrations reach neither the store nor the hasher.
func TestRegisterInvalidDoesNotHash(t *testing.T) {
	store := &registrationStore{emails: map[string]bool{}, checkErr: errors.New("store must not be called")}
	svc, h := newRegistrationService(t, store)
	_, err := svc.Register(context.Background(), users.Registration{Email: "nul\x00@example.com", Password: strings.Repeat("x", 8), Name: "Ada"}, "10.0.0.1")
	if apperr.Code(err) != apperr.Invalid {
		t.Fatalf("Register = %v, want invalid-request", err)
	}
	if n := h.count(); n != 0 {
		t.Errorf("%d passwords hashed, want 0", n)
	}
}

// Each client address may create registrationsPerClient accounts per
// window; past that it is refused before any hash, with the time to wait.
// Registrations that create no account do not count.
func TestRegisterLimitPerClient(t *testing.T) {
	store := &registrationStore{emails: map[string]bool{"taken@example.com": true}}
	svc, h := newRegistrationService(t, store)
	register := func(email, client string) error {
		_, err := svc.Register(context.Background(), users.Registration{Email: email, Password: "correct horse", Name: "Ada"}, client)
		return err
	}
	for i := range registrationsPerClient {
		if err := register("taken@example.com", "10.0.0.1"); apperr.Code(err) != apperr.Conflict {
			t.Fatalf("taken email = %v, want a Conflict", err)
		}
		if err := register(fmt.Sprintf("ada%d@example.com", i), "10.0.0.1"); err != nil {
			t.Fatalf("registration %d: %v", i+1, err)
		}
	}
	hashes := h.count()
	err := register("one-too-many@example.com", "10.0.0.1")
	var limited *users.RateLimitError
	if !errors.As(err, &limited) || apperr.Code(err) != apperr.TooManyRequest || limited.RetryAfterSeconds() != 3600 {
		t.Fatalf("registration past the limit = %v, want a RateLimitError with an hour to wait", err)
	}
	if n := h.count(); n != hashes {
		t.Errorf("%d passwords hashed for a refused registration, want 0", n-hashes)
	}
	if err := register("one-too-many@example.com", "10.0.0.2"); err != nil {
		t.Errorf("another client's registration = %v, want it to pass", err)
	}
}
