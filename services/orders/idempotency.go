package orders

import (
	"time"

	"bazaar/platform/apperr"
)

// MaxKeyLength is the longest Idempotency-Key accepted.
const MaxKeyLength = 255

// DefaultKeyTTL is how long a key and its response are kept.
const DefaultKeyTTL = 24 * time.Hour

// CheckIdempotencyKey validates an Idempotency-Key header value: 1 to
// MaxKeyLength printable ASCII characters.
func CheckIdempotencyKey(key string) error {
	var v apperr.Validation
	ok := len(key) >= 1 && len(key) <= MaxKeyLength
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] >= 0x20 && key[i] <= 0x7e
	}
	v.Check(ok, "Idempotency-Key", "must be 1 to 255 printable ASCII characters")
	return v.Err()
}

// KeyClaim is the right, won by one request, to run the request that an
// idempotency key names. Token tells this claim from a later one that took
// the key over, so that a request that lost its claim can no longer write.
type KeyClaim struct {
	UserID string
	Key    string
	Token  string
	// OrderID is the id that every attempt with the key places its order
	// under, chosen when the key is first claimed, so that a retry reserves
	// no stock beyond what an earlier attempt holds. Service.Place moves the
	// key to a new id (Store.ReassignKey) once the catalog refuses this one.
	OrderID string
	// Resume names the recorded order of an earlier attempt that failed or
	// was interrupted before its response was stored: the request answers
	// with that order rather than placing another.
	Resume string
}

// StoredResponse is the first response given for an idempotency key.
type StoredResponse struct {
	Status int
	Body   []byte
}

// Errors of claiming an idempotency key.
var (
	ErrKeyInFlight = apperr.Errorf(apperr.InFlight, "A request with this Idempotency-Key is still being processed; retry shortly.")
	ErrKeyReused   = apperr.Errorf(apperr.KeyReused, "This Idempotency-Key was used with a different request body.")
)
