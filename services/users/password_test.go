package users_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"bazaar/users"
)

func TestPasswordHashUsesOWASPParameters(t *testing.T) {
	t.Parallel()
	h := users.NewPasswordHasher(1)
	encoded, err := h.Hash(context.Background(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		t.Fatalf("hash %q: want 6 $-separated parts", encoded)
	}
	if got, want := strings.Join(parts[:4], "$"), "$argon2id$v=19$m=19456,t=2,p=1"; got != want {
		t.Errorf("hash prefix = %q, want %q (19 MiB, 2 iterations, parallelism 1)", got, want)
	}
	for i, want := range map[int]int{4: 16, 5: 32} {
		b, err := base64.RawStdEncoding.DecodeString(parts[i])
		if err != nil || len(b) != want {
			t.Errorf("part %d = %q: want %d bytes of unpadded base64 (err %v)", i, parts[i], want, err)
		}
	}
}

func TestPasswordVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := users.NewPasswordHasher(2)
	encoded, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if encoded == again {
		t.Error("two hashes of one password are equal: the salt is not random")
	}

	// A hash made with other (older, weaker) parameters still verifies: the
	// parameters are read from the stored string.
	salt := []byte("0123456789abcdef")
	weaker := fmt.Sprintf("$argon2id$v=19$m=8192,t=1,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("old secret"), salt, 1, 8192, 1, 32)))

	for _, tc := range []struct {
		name, password, hash string
		want                 bool
	}{
		{"right password", "correct horse", encoded, true},
		{"second hash", "correct horse", again, true},
		{"wrong password", "correct horsE", encoded, false},
		{"empty password", "", encoded, false},
		{"other parameters", "old secret", weaker, true},
		{"other parameters, wrong password", "old secreT", weaker, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := h.Verify(ctx, tc.password, tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Verify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPasswordVerifyRejectsMalformedHashes(t *testing.T) {
	t.Parallel()
	h := users.NewPasswordHasher(1)
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	for name, hash := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":        "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"old version":    "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"huge memory":    "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key,
		"zero time":      "$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"bad salt":       "$argon2id$v=19$m=19456,t=2,p=1$!!$" + key,
		"short key":      "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$AAAA",
		"missing params": "$argon2id$v=19$" + salt + "$" + key,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if ok, err := h.Verify(context.Background(), "password", hash); err == nil || ok {
				t.Errorf("Verify(%q) = %v, %v; want an error", hash, ok, err)
			}
		})
	}
}
