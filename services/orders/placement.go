package orders

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"bazaar/platform/apperr"
)

// Limits of one placement.
const (
	MaxLines    = 100
	MinQuantity = 1
	MaxQuantity = 1000
)

// Line is one requested line: a product and how many of it.
type Line struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Placement is a validated order request. Its only constructor is
// NewPlacement, so a Placement always satisfies the rules.
type Placement struct {
	lines []Line
}

// NewPlacement validates lines: 1 to MaxLines lines, each with a product id
// and a quantity from MinQuantity to MaxQuantity, each product at most once.
//
// A product named twice is refused rather than merged: the client's intent
// is ambiguous (a mistake, or an increase?), and one line per product keeps
// the order, the reservation and the receipt line for line the same.
//
// Product ids are compared and kept in lower case, the catalog's canonical
// form. An id that cannot be a product id is not a validation error here:
// it names an unknown product, which Service.Place answers with 422.
func NewPlacement(lines []Line) (Placement, error) {
	var v apperr.Validation
	if len(lines) < 1 || len(lines) > MaxLines {
		v.Add("items", fmt.Sprintf("must hold from 1 to %d lines", MaxLines))
		return Placement{}, v.Err()
	}
	norm := make([]Line, len(lines))
	seen := make(map[string]int, len(lines))
	for i, l := range lines {
		field := "items[" + strconv.Itoa(i) + "]"
		id := strings.ToLower(l.ProductID)
		if id == "" {
			v.Add(field+".product_id", "is required")
		} else if j, dup := seen[id]; dup {
			v.Add(field+".product_id", fmt.Sprintf("repeats items[%d]; send one line per product", j))
		} else {
			seen[id] = i
		}
		v.Check(l.Quantity >= MinQuantity && l.Quantity <= MaxQuantity, field+".quantity",
			fmt.Sprintf("must be an integer from %d to %d", MinQuantity, MaxQuantity))
		norm[i] = Line{ProductID: id, Quantity: l.Quantity}
	}
	if err := v.Err(); err != nil {
		return Placement{}, err
	}
	return Placement{lines: norm}, nil
}

// Lines returns a copy of the placement's lines, in the client's order.
func (p Placement) Lines() []Line {
	return append([]Line(nil), p.lines...)
}

// Units is the number of units the placement asks for, over all lines.
func (p Placement) Units() int {
	n := 0
	for _, l := range p.lines {
		n += l.Quantity
	}
	return n
}

// Hash identifies the request for idempotency: two bodies that ask for the
// same lines in the same order have the same hash, however they are
// formatted.
func (p Placement) Hash() []byte {
	h := sha256.New()
	for _, l := range p.lines {
		fmt.Fprintf(h, "%s\x00%d\n", l.ProductID, l.Quantity)
	}
	return h.Sum(nil)
}

// NewID returns a new order id: a UUIDv7, whose time-ordered prefix keeps
// the primary key index compact.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// firstIDAt returns the id that sorts before every order id made at t or
// later and after every one made earlier: t's milliseconds, then zeros.
func firstIDAt(t time.Time) string {
	var id uuid.UUID
	ms := t.UnixMilli()
	for i := range 6 {
		id[i] = byte(ms >> (40 - 8*i))
	}
	return id.String()
}

// quote shows a client-supplied string in a message, cut short so that a
// hostile megabyte-long id does not come back in the response.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
