// Package http serves the users API with echo.
package http

import (
	_ "embed"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"bazaar/platform/apperr"
	"bazaar/platform/ident"
	"bazaar/platform/web"
	"bazaar/users"
	"bazaar/users/metrics"
)

// RefreshCookie is the cookie that carries the refresh token for the
// browser storefront, out of reach of page scripts (HttpOnly).
const RefreshCookie = "bazaar_refresh"

// cookiePath scopes the refresh cookie to this service's routes, so the
// other services never receive it.
const cookiePath = "/api/users"

//go:embed openapi.json
var openAPI []byte

// Handler holds the users HTTP handlers.
type Handler struct {
	service      *users.Service
	keys         *users.TokenKeys
	cookieSecure bool
	metrics      *metrics.Metrics
}

// NewHandler returns a Handler serving svc, publishing keys, and counting
// what it does in m. cookieSecure sets the Secure attribute of the refresh
// cookie; it is off only for plain-HTTP development setups.
func NewHandler(svc *users.Service, keys *users.TokenKeys, cookieSecure bool, m *metrics.Metrics) *Handler {
	return &Handler{service: svc, keys: keys, cookieSecure: cookieSecure, metrics: m}
}

// Register mounts the public routes on e.
func (h *Handler) Register(e *echo.Echo) {
	authenticate := web.Authenticate(h.keys.Verifier())
	g := e.Group("/api/users")
	g.POST("/register", h.register)
	g.POST("/login", h.login)
	g.POST("/refresh", h.refresh)
	g.POST("/logout", h.logout)
	g.GET("/me", h.me, authenticate)
	g.GET("", h.listUsers, authenticate, web.RequireAdmin)
	g.GET("/.well-known/jwks.json", h.jwks)
	g.GET("/openapi.json", h.openAPI)
}

type userResponse struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

func (h *Handler) register(c echo.Context) error {
	var req users.Registration
	if err := web.BindJSON(c, &req); err != nil {
		return err
	}
	u, err := h.service.Register(c.Request().Context(), req, c.RealIP())
	if err != nil {
		setRetryAfter(c, err)
		return err
	}
	h.metrics.Registered()
	return c.JSON(http.StatusCreated, u)
}

func (h *Handler) login(c echo.Context) error {
	var req users.Credentials
	if err := web.BindJSON(c, &req); err != nil {
		return err
	}
	tokens, err := h.service.Login(c.Request().Context(), req, c.RealIP())
	switch {
	case setRetryAfter(c, err):
		h.metrics.Login(metrics.LoginRateLimited)
		return err
	case errors.Is(err, users.ErrInvalidCredentials):
		h.metrics.Login(metrics.LoginFailure)
		return err
	case err != nil:
		return err
	}
	h.metrics.Login(metrics.LoginSuccess)
	return h.writeTokens(c, tokens, true)
}

// setRetryAfter sets the Retry-After header when err is a
// *users.RateLimitError, and reports whether it was.
func setRetryAfter(c echo.Context, err error) bool {
	var limited *users.RateLimitError
	if !errors.As(err, &limited) {
		return false
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(limited.RetryAfterSeconds()))
	return true
}

func (h *Handler) refresh(c echo.Context) error {
	token, fromCookie, err := refreshToken(c)
	if err != nil {
		return err
	}
	tokens, err := h.service.Refresh(c.Request().Context(), token)
	if errors.Is(err, users.ErrRefreshTokenReused) {
		h.metrics.RefreshReused()
	}
	if err != nil {
		if fromCookie && apperr.Code(err) == apperr.Unauthorized {
			h.clearCookie(c) // the browser should stop sending a dead token
		}
		return err
	}
	h.metrics.Refreshed()
	// A browser's refresh token stays where page scripts cannot read it: in
	// the HttpOnly cookie only.
	return h.writeTokens(c, tokens, !fromCookie)
}

func (h *Handler) logout(c echo.Context) error {
	token, _, err := refreshToken(c)
	if err != nil {
		return err
	}
	if err := h.service.Logout(c.Request().Context(), token); err != nil {
		return err
	}
	h.clearCookie(c)
	return c.NoContent(http.StatusNoContent)
}

// refreshBody is the JSON body of a refresh or a logout.
type refreshBody struct {
	RefreshToken string `json:"refresh_token"`
}

// refreshToken reads the refresh token from the JSON body, or else from the
// cookie: API clients send the former, the storefront the latter with an
// empty body.
func refreshToken(c echo.Context) (token string, fromCookie bool, err error) {
	var body refreshBody
	if c.Request().ContentLength != 0 {
		if err := web.BindJSON(c, &body); err != nil {
			return "", false, err
		}
	}
	if body.RefreshToken != "" {
		return body.RefreshToken, false, nil
	}
	if ck, err := c.Cookie(RefreshCookie); err == nil && ck.Value != "" {
		return ck.Value, true, nil
	}
	return "", false, nil
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// writeTokens answers with the tokens and sets the refresh cookie;
// refreshInBody says whether the body carries the refresh token too.
func (h *Handler) writeTokens(c echo.Context, t users.Tokens, refreshInBody bool) error {
	c.SetCookie(&http.Cookie{
		Name:     RefreshCookie,
		Value:    t.RefreshToken,
		Path:     cookiePath,
		MaxAge:   int(t.RefreshTTL.Seconds()),
		HttpOnly: true,
		Secure:   h.cookieSecure,
		SameSite: http.SameSiteStrictMode,
	})
	// Tokens must not linger in any cache (RFC 6749 §5.1).
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	body := tokenResponse{AccessToken: t.AccessToken, TokenType: "Bearer", ExpiresIn: int(t.AccessTTL.Seconds())}
	if refreshInBody {
		body.RefreshToken = t.RefreshToken
	}
	return c.JSON(http.StatusOK, body)
}

func (h *Handler) clearCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{
		Name:     RefreshCookie,
		Path:     cookiePath,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   h.cookieSecure,
		SameSite: http.SameSiteStrictMode,
	})
}

func (h *Handler) me(c echo.Context) error {
	u, err := h.service.Me(c.Request().Context(), web.Claims(c).UserID())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, userResponse{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role})
}

type userPage struct {
	Items      []users.User `json:"items"`
	NextCursor *string      `json:"next_cursor"`
}

func (h *Handler) listUsers(c echo.Context) error {
	var v apperr.Validation
	p := web.ParsePage(c, &v, users.DefaultLimit, users.MaxLimit, ident.DecodeCursor)
	if err := v.Err(); err != nil {
		return err
	}
	f := users.UserFilter{Limit: p.Limit, After: p.After}
	page, err := h.service.Users(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := userPage{Items: page.Items}
	if out.Items == nil {
		out.Items = []users.User{}
	}
	if page.Next != "" {
		next := ident.EncodeCursor(page.Next)
		out.NextCursor = &next
	}
	return c.JSON(http.StatusOK, out)
}

// jwks publishes the public keys. Verifiers may cache them for five
// minutes; they refetch sooner when they meet an unknown kid.
func (h *Handler) jwks(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
	return c.JSON(http.StatusOK, h.keys.JWKS())
}

func (h *Handler) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI)
}
