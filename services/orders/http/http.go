// Package http serves the orders API with echo.
package http

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"bazaar/orders"
	"bazaar/platform/apperr"
	"bazaar/platform/auth"
	"bazaar/platform/ident"
	"bazaar/platform/web"
)

// HeaderIdempotencyKey names the header that makes POST /api/orders safe to
// retry.
const HeaderIdempotencyKey = "Idempotency-Key"

// headerReplayed tells a client that it got the stored first response.
const headerReplayed = "Idempotent-Replayed"

// KeyStore keeps idempotency keys and their first responses.
type KeyStore interface {
	ClaimKey(ctx context.Context, userID, key string, hash []byte, ttl, lease time.Duration) (orders.KeyClaim, *orders.StoredResponse, error)
	CompleteKey(ctx context.Context, claim orders.KeyClaim, status int, body []byte) error
	UnlockKey(ctx context.Context, claim orders.KeyClaim) error
}

// Handler holds the orders API's handlers.
type Handler struct {
	Orders   *orders.Service
	Keys     KeyStore
	Verifier *auth.Verifier
	Logger   *slog.Logger
	// KeyTTL is how long an idempotency key and its response are kept.
	KeyTTL time.Duration
	// KeyLease is how long a request may hold its key without answering
	// before another request may take the key over. Placements and
	// cancellations are bounded by it too, so that none outlives its claim.
	KeyLease time.Duration
}

// Register mounts the public routes on e.
func (h *Handler) Register(e *echo.Echo) {
	authn := web.Authenticate(h.Verifier)
	e.GET("/api/orders/openapi.json", serveOpenAPI)
	e.POST("/api/orders", h.placeOrder, authn)
	e.GET("/api/orders", h.listOrders, authn)
	e.GET("/api/orders/:id", h.getOrder, authn)
	e.POST("/api/orders/:id/cancel", h.cancelOrder, authn)
}

func viewer(c echo.Context) orders.Viewer {
	claims := web.Claims(c)
	return orders.Viewer{UserID: claims.UserID(), Admin: claims.IsAdmin()}
}

type placeBody struct {
	Items []lineBody `json:"items"`
}

type lineBody struct {
	ProductID string `json:"product_id"`
	// Quantity is kept raw so that a fraction, an exponent or a number too
	// large for any integer is a field error, not a decoding failure.
	Quantity json.RawMessage `json:"quantity"`
}

// quantity reads an integer literal of at most four digits; anything else
// (missing, a fraction, a string, a huge number) reads as 0, which the
// domain's range check refuses with a field error.
func quantity(raw json.RawMessage) int {
	if len(raw) == 0 || len(raw) > 4 {
		return 0
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil {
		return 0
	}
	return n
}

// detached returns the request's context without its cancellation, bounded
// by KeyLease: once started, a placement or cancellation runs to its end
// even if the client goes away, so that its key and order are settled
// rather than abandoned.
func (h *Handler) detached(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(c.Request().Context()), h.KeyLease)
}

func (h *Handler) placeOrder(c echo.Context) error {
	ctx, cancel := h.detached(c)
	defer cancel()
	key, hasKey, err := idempotencyKey(c.Request().Header)
	if err != nil {
		return err
	}
	var body placeBody
	if err := web.BindJSON(c, &body); err != nil {
		return err
	}
	lines := make([]orders.Line, len(body.Items))
	for i, l := range body.Items {
		lines[i] = orders.Line{ProductID: l.ProductID, Quantity: quantity(l.Quantity)}
	}
	p, err := orders.NewPlacement(lines)
	if err != nil {
		return err
	}
	v := viewer(c)
	if !hasKey {
		o, err := h.Orders.Place(ctx, v.UserID, p, nil)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, o)
	}
	return h.placeOnce(ctx, c, v, key, p)
}

// placeOnce places an order under an Idempotency-Key: the request that
// claims the key runs and stores its final answer; the others replay it or
// are refused.
func (h *Handler) placeOnce(ctx context.Context, c echo.Context, v orders.Viewer, key string, p orders.Placement) error {
	claim, stored, err := h.Keys.ClaimKey(ctx, v.UserID, key, p.Hash(), h.KeyTTL, h.KeyLease)
	if err != nil {
		return err
	}
	if stored != nil {
		c.Response().Header().Set(headerReplayed, "true")
		return writeStored(c, stored.Status, stored.Body)
	}
	var o orders.Order
	if claim.Resume != "" {
		o, err = h.Orders.Order(ctx, v, claim.Resume)
	} else {
		o, err = h.Orders.Place(ctx, v.UserID, p, &claim)
	}
	status, out := http.StatusCreated, []byte(nil)
	if err == nil {
		out, err = json.Marshal(o)
	}
	if err != nil {
		problem := web.ProblemFor(err)
		if problem.Status >= 500 {
			// The outcome is unknown: a retry must run again, not replay.
			// The key is unlocked for it, keeping its order id, so that the
			// retry resumes that order if it was recorded, or places it
			// under the same id, never a second one.
			if uerr := h.Keys.UnlockKey(ctx, claim); uerr != nil {
				h.Logger.WarnContext(ctx, "unlocking an idempotency key failed; it unlocks itself after its lease", "err", uerr)
			}
			return err
		}
		status, out = problem.Status, mustJSON(problem)
	}
	if cerr := h.Keys.CompleteKey(ctx, claim, status, out); cerr != nil {
		// The answer stands: once the key's lease runs out, a retry resumes
		// a confirmed order instead of placing another.
		h.Logger.WarnContext(ctx, "storing an idempotent response failed", "err", cerr)
	}
	return writeStored(c, status, out)
}

// idempotencyKey returns the request's Idempotency-Key, whether it has one,
// and a 400 when it is malformed or repeated.
func idempotencyKey(hdr http.Header) (string, bool, error) {
	values := hdr.Values(HeaderIdempotencyKey)
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
		return values[0], true, orders.CheckIdempotencyKey(values[0])
	}
	var v apperr.Validation
	v.Add(HeaderIdempotencyKey, "must be sent once")
	return "", false, v.Err()
}

// writeStored writes a response body rendered ahead: an order, or the
// problem of an error.
func writeStored(c echo.Context, status int, body []byte) error {
	ct := echo.MIMEApplicationJSON
	if status >= 400 {
		ct = "application/problem+json"
	}
	return c.Blob(status, ct, body)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs reach here
	}
	return b
}

type orderPage struct {
	Items      []orders.Order `json:"items"`
	NextCursor *string        `json:"next_cursor"`
}

func (h *Handler) listOrders(c echo.Context) error {
	var v apperr.Validation
	q := web.ParsePage(c, &v, orders.DefaultLimit, orders.MaxLimit, decodeCursor)
	if err := v.Err(); err != nil {
		return err
	}
	p := orders.PageRequest{Limit: q.Limit}
	if q.HasCursor {
		p.After = &q.After
	}
	page, err := h.Orders.Orders(c.Request().Context(), viewer(c).UserID, p)
	if err != nil {
		return err
	}
	out := orderPage{Items: page.Items}
	if out.Items == nil {
		out.Items = []orders.Order{}
	}
	if page.Next != nil {
		next := encodeCursor(*page.Next)
		out.NextCursor = &next
	}
	return c.JSON(http.StatusOK, out)
}

func (h *Handler) getOrder(c echo.Context) error {
	o, err := h.Orders.Order(c.Request().Context(), viewer(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

func (h *Handler) cancelOrder(c echo.Context) error {
	ctx, cancel := h.detached(c)
	defer cancel()
	o, err := h.Orders.Cancel(ctx, viewer(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

// Cursors are opaque to clients: the position of a page's last order,
// versioned and base64url-encoded so that the format can change without
// breaking links clients kept.
const cursorVersion = "v1"

func encodeCursor(cur orders.Cursor) string {
	raw := cursorVersion + ":" + strconv.FormatInt(cur.CreatedAt.UnixMicro(), 10) + ":" + cur.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodeCursor accepts exactly the cursors encodeCursor makes: any other
// spelling (stray newlines or trailing bits that lenient base64 ignores,
// leading zeros or signs, uppercase ids) is refused.
func decodeCursor(s string) (orders.Cursor, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return orders.Cursor{}, false
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != cursorVersion || !ident.IsUUID(parts[2]) || parts[2] != strings.ToLower(parts[2]) {
		return orders.Cursor{}, false
	}
	us, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || us < 0 {
		return orders.Cursor{}, false
	}
	cur := orders.Cursor{CreatedAt: time.UnixMicro(us), ID: parts[2]}
	if encodeCursor(cur) != s {
		return orders.Cursor{}, false
	}
	return cur, true
}
