package web

import (
	"strings"

	"github.com/labstack/echo/v4"

	"bazaar/platform/apperr"
	"bazaar/platform/auth"
)

const claimsKey = "auth.claims"

// Authenticate requires a valid Bearer access token and stores its claims
// for Claims to return.
func Authenticate(v *auth.Verifier) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			scheme, token, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="bazaar"`)
				return apperr.Errorf(apperr.Unauthorized, "An Authorization: Bearer access token is required.")
			}
			claims, err := v.Verify(c.Request().Context(), token)
			if err != nil {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="bazaar", error="invalid_token"`)
				return err
			}
			c.Set(claimsKey, claims)
			return next(c)
		}
	}
}

// RequireAdmin lets only admins through; it runs after Authenticate.
func RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !Claims(c).IsAdmin() {
			return apperr.Errorf(apperr.Forbidden, "This action needs the admin role.")
		}
		return next(c)
	}
}

// Claims returns the claims that Authenticate stored.
func Claims(c echo.Context) *auth.Claims {
	claims, _ := c.Get(claimsKey).(*auth.Claims)
	if claims == nil {
		return &auth.Claims{}
	}
	return claims
}
