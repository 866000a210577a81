package users

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"bazaar/platform/auth"
)

// TokenKeys signs access tokens with the current Ed25519 key and knows the
// previous public keys that tokens still in circulation may be signed with.
// Every key is published in the JWKS, so other services keep accepting
// tokens issued before a rotation until they expire.
type TokenKeys struct {
	private  ed25519.PrivateKey
	kid      string
	public   auth.StaticKeys // kid → key, the current one included
	previous []ed25519.PublicKey
}

// NewTokenKeys returns keys signing with private and also accepting the
// previous public keys.
func NewTokenKeys(private ed25519.PrivateKey, previous []ed25519.PublicKey) *TokenKeys {
	pub := private.Public().(ed25519.PublicKey)
	k := &TokenKeys{private: private, kid: auth.KeyID(pub), public: auth.StaticKeys{}}
	k.public[k.kid] = pub
	for _, p := range previous {
		if kid := auth.KeyID(p); k.public[kid] == nil {
			k.public[kid] = p
			k.previous = append(k.previous, p)
		}
	}
	return k
}

// KeyID returns the kid of the signing key.
func (k *TokenKeys) KeyID() string { return k.kid }

// JWKS returns the public keys, the signing key first.
func (k *TokenKeys) JWKS() auth.JWKS {
	set := auth.JWKS{Keys: []auth.JWK{auth.PublicJWK(k.kid, k.public[k.kid])}}
	for _, p := range k.previous {
		set.Keys = append(set.Keys, auth.PublicJWK(auth.KeyID(p), p))
	}
	return set
}

// Verifier checks access tokens against these keys locally, exactly as other
// services do through the JWKS.
func (k *TokenKeys) Verifier() *auth.Verifier {
	return &auth.Verifier{Keys: k.public}
}

// IssueAccessToken signs an access token for u valid for ttl from now.
func (k *TokenKeys) IssueAccessToken(u User, now time.Time, ttl time.Duration) (string, error) {
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    auth.Issuer,
			Subject:   u.ID,
			Audience:  jwt.ClaimStrings{auth.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			ID:        uuid.NewString(),
		},
		Email: u.Email,
		Role:  u.Role,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = k.kid
	s, err := t.SignedString(k.private)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

// ParsePrivateKeyPEM reads a PKCS#8 Ed25519 private key in PEM form, as
// `openssl genpkey -algorithm ed25519` writes it. Environment variables that
// cannot hold newlines may write them as `\n`.
func ParsePrivateKeyPEM(s string) (ed25519.PrivateKey, error) {
	block, rest := pem.Decode([]byte(unescapeNewlines(s)))
	if block == nil || block.Type != "PRIVATE KEY" || strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("want exactly one PEM block of type PRIVATE KEY")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8 key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want an Ed25519 key", key)
	}
	return priv, nil
}

// ParsePublicKeysPEM reads any number of concatenated PKIX Ed25519 public
// keys in PEM form (`openssl pkey -pubout`).
func ParsePublicKeysPEM(s string) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	rest := []byte(unescapeNewlines(s))
	for strings.TrimSpace(string(rest)) != "" {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "PUBLIC KEY" {
			return nil, errors.New("want PEM blocks of type PUBLIC KEY only")
		}
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse public key: %w", err)
		}
		pub, ok := key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("key is %T, want an Ed25519 key", key)
		}
		keys = append(keys, pub)
	}
	return keys, nil
}

func unescapeNewlines(s string) string {
	if strings.Contains(s, "\n") {
		return s
	}
	return strings.ReplaceAll(s, `\n`, "\n")
}

// refreshTokenBytes is the entropy of a refresh token: 256 bits, so that
// guessing one is hopeless and a fast unsalted hash is enough to store it.
const refreshTokenBytes = 32

// newRefreshToken returns a fresh opaque refresh token and the hash to store.
func newRefreshToken() (token string, hash []byte) {
	b := make([]byte, refreshTokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(b), sum[:]
}

// hashRefreshToken returns the stored form of a presented token, or false
// when it cannot be one of ours (so the database is not asked).
func hashRefreshToken(token string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != refreshTokenBytes {
		return nil, false
	}
	sum := sha256.Sum256(b)
	return sum[:], true
}
