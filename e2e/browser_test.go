package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The storefront (web/) driven in headless Chromium through nginx, as a
// shopper and an admin use it. Every step leaves screenshots at desktop and
// phone widths in artifacts/screenshots/<test>/.

// A shopper registers, searches, adds two products, checks out, sees the
// order, cancels it; the session survives a reload and ends with log-out.
func TestBrowserShopperJourney(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	w := uniqueWord()
	lamp := createProduct(t, admin, "Reading lamp "+w, 2490, 10, "e2e-"+w)
	mug := createProduct(t, admin, "Stoneware mug "+w, 1250, 10, "e2e-"+w)
	email, password := fmt.Sprintf("ada-%s@example.com", w), "correct horse battery"

	p := newBrowserPage(t, "")
	p.open("/")
	p.shot("01-home")

	p.click(`#nav a[href^="#/register"]`)
	p.fill("#f-name", "Ada Lovelace")
	p.fill("#f-email", email)
	p.fill("#f-password", password)
	p.shot("02-register")
	p.click(`#main form button[type="submit"]`)
	p.do("wait for the new account", chromedp.WaitVisible(chromedp.CSS("#logout")))
	p.waitText("#nav .who", "Ada Lovelace")
	p.shot("03-registered")

	p.search(w)
	p.waitCount("#product-grid .card", 2)
	p.shot("04-search")

	p.addToCart(lamp.ID)
	p.addToCart(mug.ID)
	p.waitText("#cart-count", "2")
	p.shot("05-added")

	p.click(`#nav a[href="#/cart"]`)
	p.waitCount(".lines .line", 2)
	p.do("wait for checkout", chromedp.WaitVisible(chromedp.CSS("#place-order")))
	p.shot("06-cart")

	p.click("#place-order")
	p.waitText(".order-head .status", "Confirmed")
	p.waitText(".flash", "Thank you")
	p.shot("07-order-placed")

	shopper := account{Email: email, Password: password, API: signIn(t, email, password)}
	orders := ordersOf(t, shopper)
	if len(orders) != 1 || orders[0].Status != "confirmed" || len(orders[0].Items) != 2 {
		t.Fatalf("orders after checkout: %+v; want one confirmed order of two lines", orders)
	}
	order := orders[0]
	wantStock(t, lamp, 9)
	wantStock(t, mug, 9)

	p.click(`#nav a[href="#/orders"]`)
	card := fmt.Sprintf(`.order[data-order-id=%q]`, order.ID)
	p.waitText(card+" .status", "Confirmed")
	p.shot("08-my-orders")

	p.click(card + " .confirm button")
	p.do("wait for the question", chromedp.WaitVisible(chromedp.CSS(card+" .confirm button.danger")))
	p.shot("09-cancel-question")
	p.click(card + " .confirm button.danger")
	p.waitText(card+" .status", "Cancelled")
	p.shot("10-cancelled")

	var got shopOrder
	shopper.API.Do(t, "GET", "/api/orders/"+order.ID, nil).Expect(t, http.StatusOK, &got)
	if got.Status != "cancelled" {
		t.Errorf("order status %q after cancelling in the UI, want cancelled", got.Status)
	}
	wantStock(t, lamp, 10)
	wantStock(t, mug, 10)

	// The access token lives in memory only; the HttpOnly refresh cookie
	// brings the session back after a reload, and log-out ends it.
	p.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#logout")))
	p.waitText("#nav .who", "Ada Lovelace")
	p.shot("11-reloaded")
	p.click("#logout")
	p.do("wait for the log-out", chromedp.WaitVisible(chromedp.CSS(`#nav a[href^="#/login"]`)))
	p.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#nav a[href^="#/login"]`)))
	p.shot("12-logged-out")
	stored := browserValue(p, "read localStorage", chromedp.Evaluate[string](`JSON.stringify(localStorage)`))
	if strings.Contains(stored, "token") || strings.Contains(stored, "eyJ") {
		t.Errorf("localStorage holds a token: %s", stored)
	}
}

// An admin adds a product in the UI that a shopper then finds by search;
// the admin then changes its stock and deletes it.
func TestBrowserAdminManagesProducts(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	w := uniqueWord()
	name := "Copper kettle " + w

	a := newBrowserPage(t, "admin")
	a.logIn(admin.Email, admin.Password, "/admin")
	a.do("wait for the product list", chromedp.WaitVisible(chromedp.CSS("#new-product")))
	a.shot("01-products")

	a.click("#new-product")
	a.fill("#f-name", name)
	a.fill("#f-sku", "KETTLE-"+strings.ToUpper(w))
	a.fill("#f-description", "Heats water on any stove.\nHolds 1.5 litres.")
	a.fill("#f-price", "34.90")
	a.fill("#f-stock", "7")
	a.fill("#f-category", "e2e-"+w)
	a.shot("02-new-product")
	a.click(`#main form button[type="submit"]`)
	a.waitText(".flash", "Created “"+name+"”")
	a.shot("03-created")

	found := searchProducts(t, w)
	if len(found) != 1 || found[0].Name != name || found[0].PriceCents != 3490 || found[0].Stock != 7 || found[0].Category != "e2e-"+w {
		t.Fatalf("products found for %q: %+v", w, found)
	}
	product := found[0]

	s := newBrowserPage(t, "shopper")
	s.open("/")
	s.search(w)
	card := fmt.Sprintf(`.card[data-product-id=%q]`, product.ID)
	s.waitText(card+" h3", name)
	s.shot("04-finds-it")
	s.click(card + " h3 a")
	s.waitText(".product h1", name)
	s.waitText(".product .price", "34.90")
	s.shot("05-product-page")

	a.search(w)
	row := fmt.Sprintf(`tr[data-product-id=%q]`, product.ID)
	a.click(row + ` a[href^="#/admin/product/"]`)
	a.fill("#f-stock", "3")
	a.click(`#main form button[type="submit"]`)
	a.waitText(".flash", "(stock 3)")
	a.shot("06-stock-changed")
	wantStock(t, product, 3)

	a.search(w)
	a.click(row + " .confirm button")
	a.click(row + " .confirm button.danger")
	a.waitCount(row, 0)
	a.shot("07-deleted")
	if _, status := productByID(t, product.ID); status != http.StatusNotFound {
		t.Errorf("deleted product: status %d, want 404", status)
	}

	s.open("/")
	s.search(w)
	s.waitText(".empty", "No products found")
	s.shot("08-gone")
}

// A checkout that the stock can no longer meet shows why, in plain words,
// and orders nothing.
func TestBrowserOutOfStockCheckout(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	w := uniqueWord()
	lantern := createProduct(t, admin, "Storm lantern "+w, 4200, 1, "e2e-"+w)
	shopper := newShopper(t, "Grace Hopper")
	rival := newShopper(t, "Rival Buyer")

	p := newBrowserPage(t, "")
	p.logIn(shopper.Email, shopper.Password, "/")
	p.search(w)
	p.addToCart(lantern.ID)
	p.click(`#nav a[href="#/cart"]`)
	p.do("wait for checkout", chromedp.WaitVisible(chromedp.CSS("#place-order")))
	p.shot("01-cart")

	// Someone else buys the last one while the shopper looks at the cart.
	rival.API.Do(t, "POST", "/api/orders", map[string]any{"items": []map[string]any{{"product_id": lantern.ID, "quantity": 1}}}).
		Expect(t, http.StatusCreated, nil)

	p.click("#place-order")
	p.waitText("#main .alert", "we do not have enough stock")
	p.waitText(".line-warning", "Out of stock")
	p.shot("02-out-of-stock")

	if n := len(ordersOf(t, shopper)); n != 0 {
		t.Errorf("the shopper has %d orders after an out-of-stock checkout, want 0", n)
	}
	wantStock(t, lantern, 0)
	if got := p.text("#cart-count"); got != "1" {
		t.Errorf("cart count %q after the refused checkout, want the cart kept (1)", got)
	}
}

// A double-clicked "Place order" places one order: the button is disabled
// while the order is in flight, and every request of one checkout attempt
// carries the same Idempotency-Key.
func TestBrowserDoubleClickCheckout(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	w := uniqueWord()
	pot := createProduct(t, admin, "Clay pot "+w, 1800, 5, "e2e-"+w)
	shopper := newShopper(t, "Katherine Johnson")

	p := newBrowserPage(t, "")
	var mu sync.Mutex
	var keys []string // Idempotency-Key of each POST /api/orders
	err := chromedp.Listen(p.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request.Method == "POST" && strings.HasSuffix(e.Request.URL, "/api/orders") {
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, headerValue(e.Request.Headers, "Idempotency-Key"))
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	p.logIn(shopper.Email, shopper.Password, "/")
	p.search(w)
	p.addToCart(pot.ID)
	p.click(`#nav a[href="#/cart"]`)
	p.do("wait for checkout", chromedp.WaitVisible(chromedp.CSS("#place-order")))
	p.shot("01-cart")

	p.doubleClick("#place-order")
	p.waitText(".order-head .status", "Confirmed")
	p.shot("02-one-order")

	orders := ordersOf(t, shopper)
	if len(orders) != 1 {
		t.Fatalf("a double-clicked checkout made %d orders, want 1: %+v", len(orders), orders)
	}
	wantStock(t, pot, 4)
	mu.Lock()
	defer mu.Unlock()
	if len(keys) == 0 || keys[0] == "" {
		t.Fatalf("order requests carried Idempotency-Keys %q, want one key", keys)
	}
	for _, k := range keys {
		if k != keys[0] {
			t.Errorf("one checkout attempt sent different Idempotency-Keys: %q", keys)
		}
	}
	t.Logf("order requests sent by the double click: %d (Idempotency-Key %s)", len(keys), keys[0])
}

func headerValue(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// doubleClick clicks the element twice in a row, as a person's double click
// does: two presses, the second with a click count of 2.
func (p *browserPage) doubleClick(selector string) {
	p.t.Helper()
	css := chromedp.CSS(selector)
	p.do("scroll to "+selector, chromedp.WaitVisible(css), chromedp.ScrollIntoView(css))
	at := browserValue(p, "locate "+selector, chromedp.Evaluate[[]float64](fmt.Sprintf(
		`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`, selector)))
	p.do("double-click "+selector,
		chromedp.MouseClickXY(at[0], at[1]),
		chromedp.MouseClickXY(at[0], at[1], chromedp.ClickCount(2)))
}
