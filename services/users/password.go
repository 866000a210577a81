package users

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"bazaar/platform/apperr"
)

// Argon2id parameters: the minimum of the OWASP Password Storage Cheat Sheet
// (19 MiB of memory, 2 iterations, parallelism 1), a 16-byte salt and a
// 32-byte key. Verification reads the parameters from each stored hash, so
// raising them later does not lock out existing accounts.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Bounds on the parameters read from a stored hash, so that a corrupt row
// cannot make one verification allocate gigabytes.
const (
	maxArgonMemoryKiB = 256 * 1024
	maxArgonTime      = 16
	maxArgonThreads   = 16
)

var b64 = base64.RawStdEncoding // PHC strings use unpadded standard base64.

// PasswordHasher hashes and verifies passwords with argon2id. Each hash
// holds 19 MiB while it runs, so at most a fixed number run at once: a burst
// of logins queues for a slot instead of exhausting the container's memory.
//
// Once no hash has run for returnAfter, the hasher hands that memory back
// to the operating system. Go's collector would return it only slowly
// (its scavenger works over minutes), leaving the idle service holding
// several times its working size after a single login.
type PasswordHasher struct {
	slots chan struct{}

	mu   sync.Mutex
	idle *time.Timer // runs returnMemory once no hash has run for returnAfter
}

// returnAfter is how long the hasher waits without a hash before it returns
// memory to the OS: long enough that a stream of logins, which reuses the
// memory, does not pay a forced collection for each one.
const returnAfter = time.Second

// NewPasswordHasher returns a hasher computing at most concurrency hashes at
// once, which needs concurrency × 19 MiB. Argon2id with parallelism 1 keeps
// one core busy, so more than the number of cores only adds memory, not
// throughput.
func NewPasswordHasher(concurrency int) *PasswordHasher {
	return &PasswordHasher{slots: make(chan struct{}, max(concurrency, 1))}
}

var errBusy = &apperr.Error{Code: apperr.Unavailable, Message: "The server is busy; try again shortly."}

func (h *PasswordHasher) acquire(ctx context.Context) (release func(), err error) {
	select {
	case h.slots <- struct{}{}:
		return h.release, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (%w)", errBusy, ctx.Err())
	}
}

// release frees a slot and (re)starts the wait before memory is returned.
func (h *PasswordHasher) release() {
	<-h.slots
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.idle == nil {
		h.idle = time.AfterFunc(returnAfter, h.returnMemory)
	} else {
		h.idle.Reset(returnAfter)
	}
}

// returnMemory collects the hashes' garbage and returns the freed memory to
// the OS, unless a hash is running (its release comes back here later).
func (h *PasswordHasher) returnMemory() {
	if len(h.slots) == 0 {
		debug.FreeOSMemory()
	}
}

// Hash returns the PHC-style encoding of an argon2id hash of password with a
// fresh random salt: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+).
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches the encoded hash, comparing in
// constant time. An error means the hash itself is unusable.
func (h *PasswordHasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	p, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

var errBadHash = errors.New("password hash is not a supported argon2id PHC string")

func decodeHash(encoded string) (argonHash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return argonHash{}, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return argonHash{}, errBadHash
	}
	var p argonHash
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &p.threads); err != nil {
		return argonHash{}, errBadHash
	}
	if p.memory < 8 || p.memory > maxArgonMemoryKiB || p.time < 1 || p.time > maxArgonTime || p.threads < 1 || p.threads > maxArgonThreads {
		return argonHash{}, errBadHash
	}
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 {
		return argonHash{}, errBadHash
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return argonHash{}, errBadHash
	}
	return p, nil
}
