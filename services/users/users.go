// Package users is the users service's domain: accounts, passwords, access
// and refresh tokens, and the rules that govern them (validation, login rate
// limiting, refresh-token rotation with reuse detection). It knows nothing of
// HTTP or PostgreSQL; the http and postgres packages adapt it to those.
package users

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"bazaar/platform/apperr"
	"bazaar/platform/text"
)

// User is an account. The password hash never leaves the store and the
// service; it is not part of User so that it cannot be serialised by mistake.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Role      string    `json:"role"` // auth.RoleCustomer or auth.RoleAdmin
	CreatedAt time.Time `json:"created_at"`
}

// Limits of the fields of a registration.
const (
	MinPasswordLen = 8   // runes
	MaxPasswordLen = 128 // runes
	MaxNameLen     = 100 // runes
	MaxEmailLen    = 254 // bytes, the longest address SMTP can carry (RFC 5321)
)

// Registration is what a visitor submits to open an account.
type Registration struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// Normalize trims the email and name; the password is taken as typed, since
// leading or trailing spaces may be part of it.
func (r *Registration) Normalize() {
	r.Email = strings.TrimSpace(r.Email)
	r.Name = strings.TrimSpace(r.Name)
}

// Validate checks a normalized registration and reports every bad field.
func (r *Registration) Validate() error {
	var v apperr.Validation
	if msg := checkEmail(r.Email); msg != "" {
		v.Add("email", msg)
	}
	if msg := CheckPassword(r.Password); msg != "" {
		v.Add("password", msg)
	}
	n := utf8.RuneCountInString(r.Name)
	v.Check(n >= 1 && n <= MaxNameLen, "name", "must be 1 to 100 characters")
	v.Check(!strings.ContainsFunc(r.Name, unicode.IsControl) && !text.HasFormatChar(r.Name), "name", "must not contain control or invisible formatting characters")
	return v.Err()
}

func checkEmail(email string) string {
	if email == "" {
		return "is required"
	}
	if len(email) > MaxEmailLen {
		return "must be at most 254 bytes"
	}
	// ParseAddress also accepts `Name <a@b>`; only a bare address is an email.
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "is not a valid email address"
	}
	return ""
}

// CheckPassword returns why password is unacceptable, or "". Length is
// counted in characters (runes), not bytes, so non-ASCII passwords get the
// same limits as ASCII ones.
func CheckPassword(password string) string {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLen || n > MaxPasswordLen {
		return "must be 8 to 128 characters"
	}
	return ""
}

// EmailKey is the form of an email under which accounts are unique and
// logins are counted: trimmed and lower-cased.
func EmailKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// UserFilter selects a page of users in id (creation) order.
type UserFilter struct {
	Limit int    // 1..MaxLimit
	After string // id of the last user of the previous page
}

// Page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// UserPage is one page of a listing; Next is empty on the last page.
type UserPage struct {
	Items []User
	Next  string
}

// RefreshToken is the stored form of a refresh token: only its SHA-256 hash
// is kept, so a copy of the database yields no usable token.
type RefreshToken struct {
	Hash      []byte
	FamilyID  string // shared by every token descended from one login
	UserID    string
	ExpiresAt time.Time
}

// Store persists users and refresh tokens.
type Store interface {
	// EmailRegistered reports whether an account has the email, compared
	// case-insensitively as the unique constraint compares it. It is the
	// cheap check Register makes before paying for a password hash.
	EmailRegistered(ctx context.Context, email string) (bool, error)
	// CreateUser inserts u and returns it with its creation time, or
	// returns ErrEmailTaken when its email is taken (case-insensitively).
	CreateUser(ctx context.Context, u User, passwordHash string) (User, error)
	// CreateAdmin creates u with the admin role unless an account has u's
	// email (case-insensitively), which it leaves unchanged. It returns the
	// account with the email: u as created, or the existing one (another
	// id).
	CreateAdmin(ctx context.Context, u User, passwordHash string) (User, error)
	// SetAdminPassword replaces the password hash of the admin account with
	// the email and revokes every refresh family of that account, or
	// returns a NotFound error when no admin account has the email.
	SetAdminPassword(ctx context.Context, email, passwordHash string, now time.Time) error
	// FindCredentials returns the user with the email (compared
	// case-insensitively) and its password hash, or a NotFound error.
	FindCredentials(ctx context.Context, email string) (User, string, error)
	// FindUser returns the user with the id, or a NotFound error.
	FindUser(ctx context.Context, id string) (User, error)
	// FindUsers returns a page of users in id order.
	FindUsers(ctx context.Context, f UserFilter) (UserPage, error)

	// CreateRefreshToken stores the first token of a new family.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken marks the token with hash presented as used and
	// stores next in its family, returning the family's user id. At most one
	// of several concurrent rotations of one token succeeds. A token that
	// was already used is reuse: the store revokes its family and returns
	// ErrRefreshTokenReused (with the user id, for the log). Unknown,
	// expired or revoked tokens, and those of a family created before
	// loginsSince, give ErrRefreshTokenInvalid. Only next's Hash and
	// ExpiresAt are read: it joins the presented token's family.
	RotateRefreshToken(ctx context.Context, presented []byte, next RefreshToken, now, loginsSince time.Time) (userID string, err error)
	// RevokeRefreshFamily revokes the family of the token with hash
	// presented; an unknown token is not an error.
	RevokeRefreshFamily(ctx context.Context, presented []byte, now time.Time) error
	// PurgeRefreshTokens deletes what expired before now and is no longer
	// needed, so that the tables do not grow without bound.
	PurgeRefreshTokens(ctx context.Context, now time.Time) error
}
