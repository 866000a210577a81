package postgres_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/platform/apperr"
	"bazaar/platform/auth"
	"bazaar/platform/pg/pgtest"
	"bazaar/users"
	"bazaar/users/postgres"
)

// pool is the package's database: one container for every test, migrated
// once, emptied before each test by mustReset.
var pool *pgxpool.Pool

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	db, err := pgtest.Start(ctx, pgtest.Options{Schema: "users", Migrations: postgres.Migrations})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	pool = db.Pool
	return m.Run()
}

// mustReset empties the tables and returns a store over them.
func mustReset(tb testing.TB) *postgres.Store {
	tb.Helper()
	if _, err := pool.Exec(context.Background(), `TRUNCATE users, refresh_families, refresh_tokens`); err != nil {
		tb.Fatal(err)
	}
	return postgres.NewStore(pool)
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// mustCreateUser stores a customer with the email and returns it.
func mustCreateUser(tb testing.TB, s *postgres.Store, email string) users.User {
	tb.Helper()
	u, err := s.CreateUser(context.Background(), users.User{ID: newID(), Email: email, Name: "Test", Role: auth.RoleCustomer}, "hash-of-"+email)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// newToken returns a random refresh token hash.
func newToken() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	sum := sha256.Sum256(b)
	return sum[:]
}

// mustLogin stores the first token of a new family for u.
func mustLogin(tb testing.TB, s *postgres.Store, u users.User, expires time.Time) []byte {
	tb.Helper()
	h := newToken()
	if err := s.CreateRefreshToken(context.Background(), users.RefreshToken{Hash: h, FamilyID: newID(), UserID: u.ID, ExpiresAt: expires}); err != nil {
		tb.Fatal(err)
	}
	return h
}

var now = time.Now()

// longAgo is a loginsSince that no login in these tests is older than.
var longAgo = now.Add(-24 * time.Hour)

func TestEmailIsUniqueCaseInsensitively(t *testing.T) {
	s := mustReset(t)
	ctx := context.Background()
	ada := mustCreateUser(t, s, "Ada@Example.com")
	if ada.CreatedAt.IsZero() {
		t.Error("CreatedAt not set")
	}
	for _, email := range []string{"Ada@Example.com", "ada@example.com", "ADA@EXAMPLE.COM"} {
		_, err := s.CreateUser(ctx, users.User{ID: newID(), Email: email, Name: "Twin", Role: auth.RoleCustomer}, "h")
		if apperr.Code(err) != apperr.Conflict {
			t.Errorf("CreateUser(%q) = %v, want a Conflict", email, err)
		}
	}

	got, hash, err := s.FindCredentials(ctx, "aDA@example.COM")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ada, got, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
		t.Errorf("FindCredentials (-want +got):\n%s", diff)
	}
	if got.Email != "Ada@Example.com" {
		t.Errorf("email = %q, want it stored as typed", got.Email)
	}
	if hash != "hash-of-Ada@Example.com" {
		t.Errorf("hash = %q", hash)
	}
	if _, _, err := s.FindCredentials(ctx, "bob@example.com"); apperr.Code(err) != apperr.NotFound {
		t.Errorf("FindCredentials(unknown) = %v, want NotFound", err)
	}
}

// EmailRegistered compares emails as the unique index does, so that
// Register's check before hashing agrees with CreateUser's constraint.
func TestEmailRegistered(t *testing.T) {
	s := mustReset(t)
	ctx := context.Background()
	for _, email := range []string{"Ada@Example.com", "ÉMILE@example.com"} {
		mustCreateUser(t, s, email)
	}
	for _, tc := range []struct {
		email string
		want  string // "yes", "no", or "" when only agreement with the index matters
	}{
		{"Ada@Example.com", "yes"},
		{"ada@example.com", "yes"},
		{"ADA@EXAMPLE.COM", "yes"},
		{"bob@example.com", "no"},
		{"ada@example.co", "no"},
		{"%@example.com", "no"},
		{"ÉMILE@example.com", "yes"},
		{"émile@example.com", ""}, // folded or not by the database's locale, as the index is
	} {
		got, err := s.EmailRegistered(ctx, tc.email)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want != "" && got != (tc.want == "yes") {
			t.Errorf("EmailRegistered(%q) = %v, want %s", tc.email, got, tc.want)
		}
		_, err = s.CreateUser(ctx, users.User{ID: newID(), Email: tc.email, Name: "Twin", Role: auth.RoleCustomer}, "h")
		if conflict := apperr.Code(err) == apperr.Conflict; conflict != got || err != nil && !conflict {
			t.Errorf("EmailRegistered(%q) = %v, but CreateUser = %v", tc.email, got, err)
		}
		if err == nil {
			if _, err := pool.Exec(ctx, `DELETE FROM users WHERE email = $1`, tc.email); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestFindUser(t *testing.T) {
	s := mustReset(t)
	ctx := context.Background()
	ada := mustCreateUser(t, s, "ada@example.com")
	got, err := s.FindUser(ctx, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ada, got, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
		t.Errorf("FindUser (-want +got):\n%s", diff)
	}
	for _, id := range []string{newID(), "not-a-uuid", ""} {
		if _, err := s.FindUser(ctx, id); apperr.Code(err) != apperr.NotFound {
			t.Errorf("FindUser(%q) = %v, want NotFound", id, err)
		}
	}
}

func TestFindUsersPages(t *testing.T) {
	s := mustReset(t)
	var want []string
	for i := range 5 {
		want = append(want, mustCreateUser(t, s, fmt.Sprintf("u%d@example.com", i)).ID)
	}
	var got []string
	f := users.UserFilter{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		page, err := s.FindUsers(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Items {
			got = append(got, u.ID)
		}
		if page.Next == "" {
			break
		}
		f.After = page.Next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ids over all pages (-want +got), want creation order without repeats:\n%s", diff)
	}
}

func TestCreateAdmin(t *testing.T) {
	s := mustReset(t)
	ctx := context.Background()
	admin := users.User{ID: newID(), Email: "root@example.com", Name: "Administrator"}
	got, err := s.CreateAdmin(ctx, admin, "first-hash")
	if err != nil || got.ID != admin.ID || got.Role != auth.RoleAdmin || got.CreatedAt.IsZero() {
		t.Fatalf("CreateAdmin = %+v, %v; want the admin created", got, err)
	}
	again, err := s.CreateAdmin(ctx, users.User{ID: newID(), Email: "ROOT@example.com", Name: "Administrator"}, "second-hash")
	if err != nil || again.ID != admin.ID {
		t.Fatalf("second CreateAdmin = %+v, %v; want the existing admin", again, err)
	}
	if _, hash, _ := s.FindCredentials(ctx, "root@example.com"); hash != "first-hash" {
		t.Errorf("admin hash = %q, want the first password kept", hash)
	}

	// An existing customer with the email is returned as it is: neither
	// promoted nor given the admin password.
	cust := mustCreateUser(t, s, "boss@example.com")
	got, err = s.CreateAdmin(ctx, users.User{ID: newID(), Email: "Boss@Example.com", Name: "Administrator"}, "admin-hash")
	if err != nil || got.ID != cust.ID || got.Role != auth.RoleCustomer {
		t.Fatalf("CreateAdmin(existing customer) = %+v, %v; want the customer, unchanged", got, err)
	}
	u, hash, _ := s.FindCredentials(ctx, "boss@example.com")
	if u.Role != auth.RoleCustomer || hash != "hash-of-boss@example.com" {
		t.Errorf("account = %+v with hash %q; want a customer with its own password", u, hash)
	}
}

func TestCreateAdminConcurrently(t *testing.T) {
	s := mustReset(t)
	var wg sync.WaitGroup
	results := make(chan bool, 10)
	for range 10 {
		wg.Go(func() {
			u := users.User{ID: newID(), Email: "root@example.com", Name: "Administrator"}
			got, err := s.CreateAdmin(context.Background(), u, "h")
			if err != nil || got.Role != auth.RoleAdmin {
				t.Errorf("CreateAdmin = %+v, %v", got, err)
			}
			results <- got.ID == u.ID
		})
	}
	wg.Wait()
	close(results)
	n := 0
	for created := range results {
		if created {
			n++
		}
	}
	var rows int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM users`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if n != 1 || rows != 1 {
		t.Errorf("%d replicas created the admin and %d rows exist; want 1 and 1", n, rows)
	}
}

// SetAdminPassword changes the admin's hash in place and signs every login
// of the admin out; it never touches an account that is not an admin.
func TestSetAdminPassword(t *testing.T) {
	s := mustReset(t)
	ctx := context.Background()
	admin, err := s.CreateAdmin(ctx, users.User{ID: newID(), Email: "Root@example.com", Name: "Administrator"}, "old-hash")
	if err != nil {
		t.Fatal(err)
	}
	session := mustLogin(t, s, admin, now.Add(time.Hour))
	cust := mustCreateUser(t, s, "boss@example.com")
	custSession := mustLogin(t, s, cust, now.Add(time.Hour))

	if err := s.SetAdminPassword(ctx, "ROOT@example.com", "new-hash", now); err != nil {
		t.Fatal(err)
	}
	u, hash, _ := s.FindCredentials(ctx, "root@example.com")
	if u.ID != admin.ID || u.Role != auth.RoleAdmin || hash != "new-hash" {
		t.Errorf("admin = %+v with hash %q; want the same account with the new hash", u, hash)
	}
	if _, err := s.RotateRefreshToken(ctx, session, users.RefreshToken{Hash: newToken(), ExpiresAt: now.Add(time.Hour)}, now, longAgo); !errors.Is(err, users.ErrRefreshTokenInvalid) {
		t.Errorf("admin's refresh token after the change = %v, want ErrRefreshTokenInvalid", err)
	}

	for _, email := range []string{"boss@example.com", "nobody@example.com"} {
		if err := s.SetAdminPassword(ctx, email, "new-hash", now); apperr.Code(err) != apperr.NotFound {
			t.Errorf("SetAdminPassword(%q) = %v, want NotFound", email, err)
		}
	}
	if _, hash, _ := s.FindCredentials(ctx, "boss@example.com"); hash != "hash-of-boss@example.com" {
		t.Errorf("customer's hash = %q, want it unchanged", hash)
	}
	if _, err := s.RotateRefreshToken(ctx, custSession, users.RefreshToken{Hash: newToken(), ExpiresAt: now.Add(time.Hour)}, now, longAgo); err != nil {
		t.Errorf("customer's refresh token = %v, want it untouched", err)
	}
}

// A login's tokens are refused once the login is older than the absolute
// lifetime, however recently they were rotated.
func TestRefreshRefusedPastLoginLifetime(t *testing.T) {
	s := mustReset(t)
	ctx := context.Background()
	ada := mustCreateUser(t, s, "ada@example.com")
	token := mustLogin(t, s, ada, now.Add(48*time.Hour))
	next := newToken()
	if _, err := s.RotateRefreshToken(ctx, token, users.RefreshToken{Hash: next, ExpiresAt: now.Add(48 * time.Hour)}, now, now.Add(-time.Hour)); err != nil {
		t.Fatalf("rotation within the lifetime = %v", err)
	}
	later := now.Add(24 * time.Hour)
	if _, err := s.RotateRefreshToken(ctx, next, users.RefreshToken{Hash: newToken(), ExpiresAt: later.Add(time.Hour)}, later, later.Add(-time.Hour)); !errors.Is(err, users.ErrRefreshTokenInvalid) {
		t.Errorf("rotation past the lifetime = %v, want ErrRefreshTokenInvalid", err)
	}
	// Refused, not used up: it is no reuse either.
	var used bool
	if err := pool.QueryRow(ctx, `SELECT used_at IS NOT NULL FROM refresh_tokens WHERE token_hash = $1`, next).Scan(&used); err != nil || used {
		t.Errorf("token refused past the lifetime: used = %v, %v; want it left unused", used, err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	s := mustReset(t)
	ctx := context.Background()
	ada := mustCreateUser(t, s, "ada@example.com")
	first := mustLogin(t, s, ada, now.Add(time.Hour))

	second := newToken()
	userID, err := s.RotateRefreshToken(ctx, first, users.RefreshToken{Hash: second, ExpiresAt: now.Add(time.Hour)}, now, longAgo)
	if err != nil || userID != ada.ID {
		t.Fatalf("rotate = %q, %v; want %q", userID, err, ada.ID)
	}
	third := newToken()
	if _, err := s.RotateRefreshToken(ctx, second, users.RefreshToken{Hash: third, ExpiresAt: now.Add(time.Hour)}, now, longAgo); err != nil {
		t.Fatalf("rotate the rotated token: %v", err)
	}

	// Another login of the same user is another family, unaffected.
	otherLogin := mustLogin(t, s, ada, now.Add(time.Hour))

	// Replaying the first token is reuse: the whole family dies, including
	// the newest token that was never used.
	userID, err = s.RotateRefreshToken(ctx, first, users.RefreshToken{Hash: newToken(), ExpiresAt: now.Add(time.Hour)}, now, longAgo)
	if !errors.Is(err, users.ErrRefreshTokenReused) || userID != ada.ID {
		t.Fatalf("replay = %q, %v; want ErrRefreshTokenReused for %q", userID, err, ada.ID)
	}
	if _, err := s.RotateRefreshToken(ctx, third, users.RefreshToken{Hash: newToken(), ExpiresAt: now.Add(time.Hour)}, now, longAgo); !errors.Is(err, users.ErrRefreshTokenInvalid) {
		t.Errorf("newest token of the revoked family = %v, want ErrRefreshTokenInvalid", err)
	}
	if _, err := s.RotateRefreshToken(ctx, otherLogin, users.RefreshToken{Hash: newToken(), ExpiresAt: now.Add(time.Hour)}, now, longAgo); err != nil {
		t.Errorf("token of another login = %v, want it unaffected", err)
	}
}

func TestRefreshRejections(t *testing.T) {
	s := mustReset(t)
	ctx := context.Background()
	ada := mustCreateUser(t, s, "ada@example.com")
	next := func() users.RefreshToken { return users.RefreshToken{Hash: newToken(), ExpiresAt: now.Add(time.Hour)} }

	if _, err := s.RotateRefreshToken(ctx, newToken(), next(), now, longAgo); !errors.Is(err, users.ErrRefreshTokenInvalid) {
		t.Errorf("unknown token = %v, want ErrRefreshTokenInvalid", err)
	}

	expired := mustLogin(t, s, ada, now.Add(-time.Second))
	if _, err := s.RotateRefreshToken(ctx, expired, next(), now, longAgo); !errors.Is(err, users.ErrRefreshTokenInvalid) {
		t.Errorf("expired token = %v, want ErrRefreshTokenInvalid", err)
	}

	loggedOut := mustLogin(t, s, ada, now.Add(time.Hour))
	if err := s.RevokeRefreshFamily(ctx, loggedOut, now); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeRefreshFamily(ctx, loggedOut, now); err != nil {
		t.Errorf("second logout = %v, want no error", err)
	}
	if err := s.RevokeRefreshFamily(ctx, newToken(), now); err != nil {
		t.Errorf("logout with an unknown token = %v, want no error", err)
	}
	if _, err := s.RotateRefreshToken(ctx, loggedOut, next(), now, longAgo); !errors.Is(err, users.ErrRefreshTokenInvalid) {
		t.Errorf("token after logout = %v, want ErrRefreshTokenInvalid", err)
	}

	// Deleting the account deletes its tokens.
	live := mustLogin(t, s, ada, now.Add(time.Hour))
	if _, err := pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateRefreshToken(ctx, live, next(), now, longAgo); !errors.Is(err, users.ErrRefreshTokenInvalid) {
		t.Errorf("token of a deleted user = %v, want ErrRefreshTokenInvalid", err)
	}
}

func TestConcurrentRefreshOfOneToken(t *testing.T) {
	s := mustReset(t)
	ada := mustCreateUser(t, s, "ada@example.com")
	token := mustLogin(t, s, ada, now.Add(time.Hour))

	const n = 20
	errs := make(chan error, n)
	winners := make(chan []byte, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			next := users.RefreshToken{Hash: newToken(), ExpiresAt: now.Add(time.Hour)}
			_, err := s.RotateRefreshToken(context.Background(), token, next, now, longAgo)
			if err == nil {
				winners <- next.Hash
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	close(winners)
	succeeded := 0
	for err := range errs {
		switch {
		case err == nil:
			succeeded++
		case errors.Is(err, users.ErrRefreshTokenReused), errors.Is(err, users.ErrRefreshTokenInvalid):
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if succeeded != 1 {
		t.Fatalf("%d of %d concurrent rotations of one token succeeded, want exactly 1", succeeded, n)
	}
	// The losers presented a used token: reuse, so the winner's new token
	// is revoked with its family.
	if _, err := s.RotateRefreshToken(context.Background(), <-winners, users.RefreshToken{Hash: newToken(), ExpiresAt: now.Add(time.Hour)}, now, longAgo); !errors.Is(err, users.ErrRefreshTokenInvalid) {
		t.Errorf("winner's token after the race = %v, want ErrRefreshTokenInvalid (family revoked)", err)
	}
	var tokens int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM refresh_tokens`).Scan(&tokens); err != nil {
		t.Fatal(err)
	}
	if tokens != 2 {
		t.Errorf("%d tokens stored, want 2 (the original and one rotation)", tokens)
	}
}

func TestPurgeRefreshTokens(t *testing.T) {
	s := mustReset(t)
	ctx := context.Background()
	ada := mustCreateUser(t, s, "ada@example.com")

	mustLogin(t, s, ada, now.Add(-time.Hour)) // a family whose every token expired
	oldUsed := mustLogin(t, s, ada, now.Add(-time.Minute))
	// Rotate a token that was valid then, to leave a used, expired token in
	// a family that lives on.
	current := newToken()
	if _, err := s.RotateRefreshToken(ctx, oldUsed, users.RefreshToken{Hash: current, ExpiresAt: now.Add(time.Hour)}, now.Add(-2*time.Minute), longAgo); err != nil {
		t.Fatal(err)
	}
	live := mustLogin(t, s, ada, now.Add(time.Hour))

	if err := s.PurgeRefreshTokens(ctx, now); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT token_hash FROM refresh_tokens`)
	if err != nil {
		t.Fatal(err)
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{current, live}
	sortBytes := cmpopts.SortSlices(func(a, b []byte) bool { return string(a) < string(b) })
	if diff := cmp.Diff(want, hashes, sortBytes); diff != "" {
		t.Errorf("tokens left (-want +got):\n%s", diff)
	}
	var families int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM refresh_families`).Scan(&families)
	if families != 2 {
		t.Errorf("%d families left, want 2 (the dead one deleted)", families)
	}
	for _, h := range [][]byte{current, live} {
		if _, err := s.RotateRefreshToken(ctx, h, users.RefreshToken{Hash: newToken(), ExpiresAt: now.Add(time.Hour)}, now, longAgo); err != nil {
			t.Errorf("live token refused after purge: %v", err)
		}
	}
}
