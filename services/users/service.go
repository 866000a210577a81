package users

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/google/uuid"

	"bazaar/platform/apperr"
	"bazaar/platform/auth"
)

// Errors the service returns that callers (and metrics) tell apart.
var (
	// ErrInvalidCredentials is the one answer to an unknown email and to a
	// wrong password, so that logins do not reveal which accounts exist.
	ErrInvalidCredentials = &apperr.Error{Code: apperr.Unauthorized, Message: "The email or password is incorrect."}
	// ErrRefreshTokenInvalid refuses an unknown, expired or revoked refresh
	// token.
	ErrRefreshTokenInvalid = &apperr.Error{Code: apperr.Unauthorized, Message: "The refresh token is missing, invalid, expired or revoked; log in again."}
	// ErrRefreshTokenReused refuses a refresh token that was already used.
	// Only a stolen copy or a replay can present a used token, so every
	// token of its login has been revoked.
	ErrRefreshTokenReused = &apperr.Error{Code: apperr.Unauthorized, Message: "The refresh token was already used; every session of its login has been revoked. Log in again."}
	// errAccountGone refuses a valid access token whose account was deleted.
	errAccountGone = &apperr.Error{Code: apperr.Unauthorized, Message: "The account of this access token no longer exists."}
	// ErrEmailTaken refuses a registration whose email an account already
	// has (compared case-insensitively).
	ErrEmailTaken = &apperr.Error{
		Code:    apperr.Conflict,
		Message: "An account with this email already exists.",
		Fields:  []apperr.FieldError{{Field: "email", Message: "is already registered"}},
	}
)

// Hasher hashes and verifies passwords; *PasswordHasher is the one the
// service runs with, and tests may substitute another.
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
}

// RateLimitError refuses a login or a registration until RetryAfter has
// passed. It unwraps to a TooManyRequest *apperr.Error for the problem
// response.
type RateLimitError struct {
	RetryAfter time.Duration
	// Reason is what the client did too much of, as a sentence for it.
	Reason string
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%s; retry after %s", e.Reason, e.RetryAfter)
}

// Unwrap returns the error the client sees.
func (e *RateLimitError) Unwrap() error {
	return apperr.Errorf(apperr.TooManyRequest, "%s; try again in %d seconds.", e.Reason, e.RetryAfterSeconds())
}

// RetryAfterSeconds is RetryAfter for the Retry-After header: whole seconds,
// rounded up and at least 1.
func (e *RateLimitError) RetryAfterSeconds() int {
	return max(1, int(math.Ceil(e.RetryAfter.Seconds())))
}

// Credentials are what a user logs in with.
type Credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// Validate only checks presence: anything else about a login attempt is
// answered with ErrInvalidCredentials, never with a hint.
func (c Credentials) Validate() error {
	var v apperr.Validation
	v.Check(c.Email != "", "email", "is required")
	v.Check(c.Password != "", "password", "is required")
	return v.Err()
}

// Tokens are what a login or a refresh hands out.
type Tokens struct {
	AccessToken  string
	AccessTTL    time.Duration
	RefreshToken string
	RefreshTTL   time.Duration
}

// ServiceConfig holds a Service's collaborators and settings.
type ServiceConfig struct {
	Store  Store
	Keys   *TokenKeys
	Hasher Hasher
	// Logins counts failed logins and refuses guessing.
	Logins *LoginLimiter
	// Registrations counts the accounts created per client address; at
	// most RegistrationsPerClient in each of its windows.
	Registrations          *Limiter
	RegistrationsPerClient int
	AccessTTL              time.Duration
	RefreshTTL             time.Duration
	// SessionMaxAge is the absolute lifetime of a login: its refresh
	// tokens are refused once it has passed, however often they rotated.
	SessionMaxAge time.Duration
	Logger        *slog.Logger
	// Now is the clock (time.Now when nil), replaceable in tests.
	Now func() time.Time
}

// Service carries out the users use cases over a Store.
type Service struct {
	cfg ServiceConfig
	// dummyHash is verified when a login names an unknown email, so that it
	// takes as long as a wrong password and timing does not reveal accounts.
	dummyHash string
}

// NewService returns a Service over cfg's dependencies. It computes one
// password hash for the constant-time login path, which takes a few tens of
// milliseconds.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dummy, err := cfg.Hasher.Hash(context.Background(), uuid.NewString())
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, dummyHash: dummy}, nil
}

// Register opens a customer account for a visitor at clientIP. The
// registrations a client may make are counted before the password is
// hashed, so that a burst cannot slip past the limit; one that creates no
// account is given back.
func (s *Service) Register(ctx context.Context, r Registration, clientIP string) (User, error) {
	r.Normalize()
	if err := r.Validate(); err != nil {
		return User{}, err
	}
	if wait, ok := s.cfg.Registrations.Take(clientIP, s.cfg.RegistrationsPerClient, s.cfg.Now()); !ok {
		return User{}, &RateLimitError{RetryAfter: wait, Reason: "Too many accounts registered from this address"}
	}
	u, err := s.register(ctx, r)
	if err != nil {
		s.cfg.Registrations.Refund(clientIP)
	}
	return u, err
}

func (s *Service) register(ctx context.Context, r Registration) (User, error) {
	// A taken email is refused before the password is hashed: a hash holds
	// one of the few hashing slots for tens of milliseconds, and logins
	// queue behind it. CreateUser still refuses the email when another
	// registration of it wins the race between this check and the insert.
	taken, err := s.cfg.Store.EmailRegistered(ctx, r.Email)
	if err != nil {
		return User{}, err
	}
	if taken {
		return User{}, ErrEmailTaken
	}
	hash, err := s.cfg.Hasher.Hash(ctx, r.Password)
	if err != nil {
		return User{}, err
	}
	return s.cfg.Store.CreateUser(ctx, User{ID: newID(), Email: r.Email, Name: r.Name, Role: auth.RoleCustomer}, hash)
}

// Login checks credentials and starts a new refresh-token family. Failed
// attempts are counted by the LoginLimiter, which refuses attempts past its
// limits with a *RateLimitError.
func (s *Service) Login(ctx context.Context, c Credentials, clientIP string) (Tokens, error) {
	if err := c.Validate(); err != nil {
		return Tokens{}, err
	}
	now := s.cfg.Now()
	// No account has an address that registration would refuse (too long,
	// malformed, holding NUL): such an attempt fails against the client's
	// address alone. It must not key the per-account limits, whose memory
	// bound assumes short keys, nor reach the store, which cannot compare
	// text holding NUL.
	var account string
	if checkEmail(strings.TrimSpace(c.Email)) == "" {
		account = EmailKey(c.Email)
	}
	attempt, err := s.cfg.Logins.Admit(account, clientIP, now)
	if err != nil {
		return Tokens{}, err
	}
	if account == "" {
		return Tokens{}, ErrInvalidCredentials
	}
	u, hash, err := s.cfg.Store.FindCredentials(ctx, account)
	known := err == nil
	if apperr.Code(err) == apperr.NotFound {
		hash, err = s.dummyHash, nil
	}
	var match bool
	if err == nil {
		match, err = s.cfg.Hasher.Verify(ctx, c.Password, hash)
	}
	if err != nil {
		attempt.Void() // an outage is not a wrong guess
		return Tokens{}, err
	}
	if !known || !match {
		return Tokens{}, ErrInvalidCredentials
	}
	attempt.Succeeded()

	refresh, refreshHash := newRefreshToken()
	err = s.cfg.Store.CreateRefreshToken(ctx, RefreshToken{Hash: refreshHash, FamilyID: newID(), UserID: u.ID, ExpiresAt: now.Add(s.cfg.RefreshTTL)})
	if err != nil {
		return Tokens{}, err
	}
	return s.tokens(u, now, refresh)
}

// Refresh exchanges a refresh token for a new access token and a new
// refresh token of the same family; the presented one is then used up. A
// family whose login is older than SessionMaxAge is refused like an expired
// token: the user logs in again.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	presented, ok := hashRefreshToken(refreshToken)
	if !ok {
		return Tokens{}, ErrRefreshTokenInvalid
	}
	now := s.cfg.Now()
	token, hash := newRefreshToken()
	next := RefreshToken{Hash: hash, ExpiresAt: now.Add(s.cfg.RefreshTTL)}
	userID, err := s.cfg.Store.RotateRefreshToken(ctx, presented, next, now, now.Add(-s.cfg.SessionMaxAge))
	if errors.Is(err, ErrRefreshTokenReused) {
		s.cfg.Logger.WarnContext(ctx, "refresh token reused; family revoked", "user_id", userID)
	}
	if err != nil {
		return Tokens{}, err
	}
	u, err := s.cfg.Store.FindUser(ctx, userID)
	if apperr.Code(err) == apperr.NotFound {
		return Tokens{}, ErrRefreshTokenInvalid
	}
	if err != nil {
		return Tokens{}, err
	}
	return s.tokens(u, now, token)
}

func (s *Service) tokens(u User, now time.Time, refreshToken string) (Tokens, error) {
	access, err := s.cfg.Keys.IssueAccessToken(u, now, s.cfg.AccessTTL)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, AccessTTL: s.cfg.AccessTTL, RefreshToken: refreshToken, RefreshTTL: s.cfg.RefreshTTL}, nil
}

// Logout revokes the family of a refresh token. Logging out twice, or with
// a token that is not ours, is not an error: the outcome is the same.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	presented, ok := hashRefreshToken(refreshToken)
	if !ok {
		return nil
	}
	return s.cfg.Store.RevokeRefreshFamily(ctx, presented, s.cfg.Now())
}

// Me returns the account an access token was issued to.
func (s *Service) Me(ctx context.Context, userID string) (User, error) {
	u, err := s.cfg.Store.FindUser(ctx, userID)
	if apperr.Code(err) == apperr.NotFound {
		return User{}, errAccountGone
	}
	return u, err
}

// Users lists accounts; the caller has checked that it is an admin.
func (s *Service) Users(ctx context.Context, f UserFilter) (UserPage, error) {
	return s.cfg.Store.FindUsers(ctx, f)
}

// BootstrapAdmin creates the admin account when no account has the email.
// An existing account is left as it is: an admin keeps its password, and an
// account that is not an admin is not promoted, since whoever registered
// that email first would otherwise become the shop's admin. That case is
// logged as an error and the service runs without the admin account.
func (s *Service) BootstrapAdmin(ctx context.Context, email, password string) error {
	r := Registration{Email: email, Password: password, Name: "Administrator"}
	r.Normalize()
	if err := r.Validate(); err != nil {
		return fmt.Errorf("admin account: %w", err)
	}
	hash, err := s.cfg.Hasher.Hash(ctx, r.Password)
	if err != nil {
		return err
	}
	admin := User{ID: newID(), Email: r.Email, Name: r.Name, Role: auth.RoleAdmin}
	u, err := s.cfg.Store.CreateAdmin(ctx, admin, hash)
	if err != nil {
		return fmt.Errorf("admin account: %w", err)
	}
	switch {
	case u.ID == admin.ID:
		s.cfg.Logger.InfoContext(ctx, "admin account created", "email", u.Email)
	case u.Role == auth.RoleAdmin:
		s.cfg.Logger.InfoContext(ctx, "admin account exists; password left unchanged", "email", u.Email)
	default:
		s.cfg.Logger.ErrorContext(ctx, "an account that is not an admin has ADMIN_EMAIL; it is left alone and no admin account was created",
			"email", u.Email, "user_id", u.ID, "role", u.Role)
	}
	return nil
}

// SetAdminPassword gives the admin account with the email a new password
// and revokes every refresh token of its logins. Access tokens already
// issued stay valid until they expire.
func (s *Service) SetAdminPassword(ctx context.Context, email, password string) error {
	var v apperr.Validation
	if msg := CheckPassword(password); msg != "" {
		v.Add("password", msg)
	}
	if err := v.Err(); err != nil {
		return err
	}
	hash, err := s.cfg.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	return s.cfg.Store.SetAdminPassword(ctx, email, hash, s.cfg.Now())
}

// PurgeExpiredTokens deletes refresh tokens past their expiry.
func (s *Service) PurgeExpiredTokens(ctx context.Context) error {
	return s.cfg.Store.PurgeRefreshTokens(ctx, s.cfg.Now())
}

// newID returns a UUIDv7: time-ordered, so that listing by id is listing by
// creation and the primary-key index stays append-mostly.
func newID() string {
	return uuid.Must(uuid.NewV7()).String()
}
