package orders

import "time"

// Status is where an order stands (see the package documentation).
type Status string

// Statuses. An order is recorded only once its stock is reserved, so every
// stored order is in one of these.
const (
	StatusConfirmed  Status = "confirmed"  // stock reserved at catalog's prices
	StatusCancelling Status = "cancelling" // cancel accepted; the stock is being released
	StatusCancelled  Status = "cancelled"  // the stock went back to the catalog
)

// Order is a user's order. Prices are integer cents in Currency, taken from
// the catalog's reservation answer, never from the client.
type Order struct {
	ID         string    `json:"id"`
	UserID     string    `json:"user_id"`
	Status     Status    `json:"status"`
	Items      []Item    `json:"items"`
	TotalCents int64     `json:"total_cents"`
	Currency   string    `json:"currency"`
	CreatedAt  time.Time `json:"created_at"`
}

// Units is the number of units the order holds, over all lines.
func (o Order) Units() int {
	n := 0
	for _, it := range o.Items {
		n += it.Quantity
	}
	return n
}

// Item is one line of an order, as the catalog reserved it.
type Item struct {
	ProductID      string `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// Viewer is who asks: users see their own orders, admins see every order.
type Viewer struct {
	UserID string
	Admin  bool
}

// CanSee reports whether v may see o. Orders of other users are answered
// as not found, never forbidden, so that their existence does not leak.
func (v Viewer) CanSee(o Order) bool {
	return v.Admin || o.UserID == v.UserID
}

// Page sizes of listings.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Cursor is the position after which a listing page starts: listings are
// newest first, ordered by (CreatedAt, ID) descending.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// PageRequest selects one page of a user's orders.
type PageRequest struct {
	Limit int     // 1..MaxLimit
	After *Cursor // nil for the first page
}

// Page is one page of orders; Next is nil on the last page.
type Page struct {
	Items []Order
	Next  *Cursor
}
