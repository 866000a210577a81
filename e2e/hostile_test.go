package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hostileFixture is what the catalogue aims at: an admin and a customer
// signed in, and a product with stock 5.
type hostileFixture struct {
	admin, shopper *Client
	product        shopProduct
	// marker is in every name, SKU and address the catalogue sends, so that
	// anything it managed to create would be found.
	marker string
}

// TestHostileRequestsAreRefused sends the hostile catalogue through nginx:
// each request gets a 4xx problem+json (never a 5xx, never a 2xx), and
// afterwards the database is as it was.
//
// Not parallel, unlike the other tests: the whole database can only be
// compared before and after while nothing else writes to it, and Go runs the
// sequential top-level tests before it releases the parallel ones.
func TestHostileRequestsAreRefused(t *testing.T) {
	admin := adminAccount(t)
	marker := uniqueWord()
	f := hostileFixture{
		admin:   admin.API,
		shopper: newShopper(t, "Hostile "+marker).API,
		product: createProduct(t, admin, "Hostile target "+marker, 1299, 5, "hostile-"+marker),
		marker:  marker,
	}
	before := snapshotDB(t, f.admin, f.shopper)

	for _, h := range hostileCatalogue(t, f) {
		t.Run(h.name, func(t *testing.T) {
			checkRefused(t, h, h.send(t))
		})
		// About 80 requests a second: well under the edge's rate limits,
		// which other tests of the run share.
		time.Sleep(12 * time.Millisecond)
	}

	after := snapshotDB(t, f.admin, f.shopper)
	for _, d := range before.diff(after) {
		t.Error(d)
	}
	if p, status := productByID(t, f.product.ID); status != http.StatusOK || p.Stock != 5 || p.PriceCents != 1299 {
		t.Errorf("target product: status %d, %+v; want stock 5 at 1299", status, p)
	}
}

// hostileCatalogue lists the hostile requests, grouped by what they try.
func hostileCatalogue(t *testing.T, f hostileFixture) []hostile {
	var cases []hostile
	add := func(group string, hs ...hostile) {
		for _, h := range hs {
			h.name = group + "/" + h.name
			cases = append(cases, h)
		}
	}
	id := f.product.ID
	product := map[string]string{
		"sku": jsonString("HOSTILE-" + f.marker), "name": jsonString("Hostile " + f.marker), "price_cents": "100",
		"stock": "1", "category": jsonString("hostile-" + f.marker),
	}
	registration := map[string]string{
		"email": jsonString("hostile-" + f.marker + "@example.com"), "password": jsonString("correct horse battery"), "name": jsonString("Hostile"),
	}
	// Well-formed logins of an account that does not exist. Each one counts
	// against the client address's login limit, which every test of the
	// run shares: keep them few.
	login := map[string]string{"email": jsonString("nobody-" + f.marker + "@example.com"), "password": jsonString("wrong password")}
	order := func(productID, quantity string) string {
		return `{"items":[{"product_id":` + jsonString(productID) + `,"quantity":` + quantity + `}]}`
	}
	createProduct := func(name, body string, status int) hostile {
		return hostile{name: name, method: "POST", path: "/api/catalog/products", body: body, as: f.admin, status: status}
	}
	patchProduct := func(name, body string, status int) hostile {
		return hostile{name: name, method: "PATCH", path: "/api/catalog/products/" + id, body: body, as: f.admin, status: status}
	}
	register := func(name, body string, status int) hostile {
		return hostile{name: name, method: "POST", path: "/api/users/register", body: body, status: status}
	}
	logIn := func(name, body string, status int) hostile {
		return hostile{name: name, method: "POST", path: "/api/users/login", body: body, status: status}
	}
	placeOrder := func(name, body string, status int) hostile {
		return hostile{name: name, method: "POST", path: "/api/orders", body: body, as: f.shopper, status: status}
	}
	get := func(name, path string, as *Client, status int) hostile {
		return hostile{name: name, method: "GET", path: path, as: as, status: status}
	}

	// Bodies that are not one JSON object, sent to every route that takes one.
	malformed := []struct{ name, body string }{
		{"cut short", `{"sku":`},
		{"lone brace", `{`},
		{"not JSON", `not json at all`},
		{"empty", ``},
		{"array", `[]`},
		{"string", `"text"`},
		{"number past float64", `1e400`},
		{"two values", `{} {}`},
		{"single quotes", `{'sku':'x'}`},
		{"trailing comma", `{"sku":"x",}`},
		{"comment", `{/* hi */}`},
		{"byte order mark", "\ufeff{}"},
		{"NaN", `{"price_cents":NaN}`},
		{"20000 levels deep", `{"sku":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`},
		{"invalid UTF-8", "{\"sku\":\"\xc0\xaf\"}"},
	}
	for _, route := range []struct {
		name, method, path string
		as                 *Client
	}{
		{"create product", "POST", "/api/catalog/products", f.admin},
		{"patch product", "PATCH", "/api/catalog/products/" + id, f.admin},
		{"register", "POST", "/api/users/register", nil},
		{"login", "POST", "/api/users/login", nil},
		{"refresh", "POST", "/api/users/refresh", nil},
		{"place order", "POST", "/api/orders", f.shopper},
	} {
		for _, m := range malformed {
			status := http.StatusBadRequest
			if route.name == "refresh" && m.body == "" {
				status = http.StatusUnauthorized // no body: the cookie is read, and there is none
			}
			add("malformed JSON/"+route.name, hostile{name: m.name, method: route.method, path: route.path, body: m.body, as: route.as, status: status})
		}
	}

	add("wrong types",
		createProduct("sku a number", jsonWith(product, "sku", "123"), 400),
		createProduct("name an array", jsonWith(product, "name", `["x"]`), 400),
		createProduct("price a string", jsonWith(product, "price_cents", `"100"`), 400),
		createProduct("stock a boolean", jsonWith(product, "stock", "true"), 400),
		createProduct("category an object", jsonWith(product, "category", `{}`), 400),
		patchProduct("stock a string", `{"stock":"5"}`, 400),
		register("email a number", jsonWith(registration, "email", "1"), 400),
		register("password an array", jsonWith(registration, "password", `["correct horse battery"]`), 400),
		register("name an object", jsonWith(registration, "name", `{}`), 400),
		logIn("email an operator object", jsonWith(login, "email", `{"$gt":""}`), 400),
		logIn("password a boolean", jsonWith(login, "password", "true"), 400),
		hostile{name: "refresh token an operator object", method: "POST", path: "/api/users/refresh", body: `{"refresh_token":{"$ne":null}}`, status: 400},
		placeOrder("items an object", `{"items":{}}`, 400),
		placeOrder("items a string", `{"items":"all"}`, 400),
		placeOrder("line a number", `{"items":[1]}`, 400),
		placeOrder("product id a number", `{"items":[{"product_id":5,"quantity":1}]}`, 400),
		placeOrder("quantity a string", order(id, `"2"`), 400),
		placeOrder("quantity a boolean", order(id, "true"), 400),
		placeOrder("quantity an object", order(id, "{}"), 400),
	)

	add("numbers",
		createProduct("price 1e400", jsonWith(product, "price_cents", "1e400"), 400),
		createProduct("price past int64", jsonWith(product, "price_cents", "9223372036854775808"), 400),
		createProduct("price below int64", jsonWith(product, "price_cents", "-9223372036854775809"), 400),
		createProduct("price -1", jsonWith(product, "price_cents", "-1"), 400),
		createProduct("price a fraction", jsonWith(product, "price_cents", "1.5"), 400),
		createProduct("price over the maximum", jsonWith(product, "price_cents", "100000001"), 400),
		createProduct("price in hex", jsonWith(product, "price_cents", "0x10"), 400),
		createProduct("stock past int32", jsonWith(product, "stock", "2147483648"), 400),
		createProduct("stock past int64", jsonWith(product, "stock", "9223372036854775808"), 400),
		createProduct("stock -1", jsonWith(product, "stock", "-1"), 400),
		createProduct("stock 1e9", jsonWith(product, "stock", "1e9"), 400),
		patchProduct("stock -1", `{"stock":-1}`, 400),
		patchProduct("stock past int64", `{"stock":9223372036854775808}`, 400),
		patchProduct("price 1e400", `{"price_cents":1e400}`, 400),
		placeOrder("quantity 1e400", order(id, "1e400"), 400),
		placeOrder("quantity past int64", order(id, "9223372036854775808"), 400),
		placeOrder("quantity -1", order(id, "-1"), 400),
		placeOrder("quantity -0", order(id, "-0"), 400),
		placeOrder("quantity 0", order(id, "0"), 400),
		placeOrder("quantity 1001", order(id, "1001"), 400),
		placeOrder("quantity a fraction", order(id, "1.5"), 400),
		placeOrder("quantity 1e2", order(id, "1e2"), 400),
		placeOrder("quantity past the stock", order(id, "6"), 409),
	)

	long := strings.Repeat("é", 10_000)
	add("text",
		createProduct("NUL in name", jsonWith(product, "name", `"Hos\u0000tile"`), 400),
		createProduct("NUL in sku", jsonWith(product, "sku", `"HOSTILE\u0000"`), 400),
		createProduct("NUL in description", jsonWith(product, "description", `"\u0000"`), 400),
		createProduct("control characters in name", jsonWith(product, "name", `"a\u001b[31mred"`), 400),
		createProduct("overlong UTF-8 in name", jsonWith(product, "name", "\"\xc0\xaf\xe0\x80\xaf\""), 400),
		createProduct("UTF-8-encoded surrogate in name", jsonWith(product, "name", "\"\xed\xa0\x80\""), 400),
		createProduct("lone surrogate escape in sku", jsonWith(product, "sku", `"\ud800"`), 400),
		createProduct("RTL override in category", jsonWith(product, "category", `"\u202eevil"`), 400),
		createProduct("zero-width space in sku", jsonWith(product, "sku", `"HOST\u200bILE"`), 400),
		createProduct("10k-character name", jsonWith(product, "name", jsonString(long)), 400),
		createProduct("10k-character sku", jsonWith(product, "sku", jsonString(strings.Repeat("S", 10_000))), 400),
		createProduct("10k-character description", jsonWith(product, "description", jsonString(long)), 400),
		createProduct("currency in lower case", jsonWith(product, "currency", `"usd"`), 400),
		createProduct("currency symbols", jsonWith(product, "currency", `"€€€"`), 400),
		register("NUL in email", jsonWith(registration, "email", jsonString("hostile-"+f.marker+"\x00@example.com")), 400),
		register("NUL in name", jsonWith(registration, "name", `"Hos\u0000tile"`), 400),
		register("CR LF in email", jsonWith(registration, "email", jsonString("hostile-"+f.marker+"@example.com\r\nBcc: eve@example.com")), 400),
		register("overlong UTF-8 in name", jsonWith(registration, "name", "\"\xc0\xaf\""), 400),
		register("10k-character name", jsonWith(registration, "name", jsonString(long)), 400),
		register("10k-character email", jsonWith(registration, "email", jsonString(strings.Repeat("a", 10_000)+"@example.com")), 400),
		register("password of 7", jsonWith(registration, "password", `"1234567"`), 400),
		register("password of 129", jsonWith(registration, "password", jsonString(strings.Repeat("p", 129))), 400),
		register("display-name email", jsonWith(registration, "email", jsonString("Eve <hostile-"+f.marker+"@example.com>")), 400),
		logIn("NUL in email", jsonWith(login, "email", jsonString("nobody-"+f.marker+"\x00@example.com")), 401),
		logIn("10k-character email", jsonWith(login, "email", jsonString(strings.Repeat("a", 10_000)+"@example.com")), 401),
		placeOrder("NUL in product id", order(id+"\x00", "1"), 422),
		placeOrder("10k-character product id", order(strings.Repeat("9", 10_000), "1"), 422),
		placeOrder("product id of no product", order("0190a5b4-0000-7000-8000-000000000000", "1"), 422),
		placeOrder("same product twice", `{"items":[{"product_id":"`+id+`","quantity":1},{"product_id":"`+strings.ToUpper(id)+`","quantity":1}]}`, 400),
		placeOrder("no lines", `{"items":[]}`, 400),
		placeOrder("null lines", `{"items":null}`, 400),
		placeOrder("101 lines", manyLines(101), 400),
	)

	add("SQL and HTML",
		createProduct("SQL in sku", jsonWith(product, "sku", `"x'; DROP TABLE products;--"`), 400),
		createProduct("SQL in category", jsonWith(product, "category", `"x' OR '1'='1"`), 400),
		createProduct("markup in category", jsonWith(product, "category", `"<script>alert(1)</script>"`), 400),
		patchProduct("SQL in currency", `{"currency":"'; --"}`, 400),
		logIn("SQL in email", jsonWith(login, "email", `"' OR '1'='1' --"`), 401),
		placeOrder("SQL in product id", order("' OR 1=1 --", "1"), 422),
		get("SQL in product id", "/api/catalog/products/1%27%20OR%20%271%27=%271", nil, 404),
		get("markup in product id", "/api/catalog/products/%3Cscript%3Ealert(1)%3C%2Fscript%3E", nil, 404),
		get("SQL in category filter", "/api/catalog/products?category=x%27%20OR%201=1", nil, 400),
		get("SQL in cursor", "/api/catalog/products?cursor=%27%20OR%201=1%20--", nil, 400),
		get("SQL in order id", "/api/orders/1%27%20OR%20%271%27=%271", f.shopper, 404),
		hostile{name: "SQL in deleted id", method: "DELETE", path: "/api/catalog/products/%27%20OR%201=1%20--", as: f.admin, status: 404},
		hostile{name: "SQL in cancelled id", method: "POST", path: "/api/orders/%27%20OR%201=1%20--/cancel", as: f.shopper, status: 404},
	)

	add("duplicate keys",
		createProduct("sku twice", `{"sku":"HOSTILE-A-`+f.marker+`","sku":"HOSTILE-B-`+f.marker+`","name":"Hostile `+f.marker+`","price_cents":1,"stock":1,"category":"hostile-`+f.marker+`"}`, 400),
		createProduct("sku twice in two cases", `{"sku":"HOSTILE-A-`+f.marker+`","SKU":"HOSTILE-B-`+f.marker+`","name":"Hostile `+f.marker+`","price_cents":1,"stock":1,"category":"hostile-`+f.marker+`"}`, 400),
		patchProduct("stock twice", `{"stock":1,"stock":-1}`, 400),
		register("email twice", `{"email":"hostile-a-`+f.marker+`@example.com","email":"hostile-b-`+f.marker+`@example.com","password":"correct horse battery","name":"H"}`, 400),
		register("role smuggled in", jsonWith(registration, "role", `"admin"`), 400),
		register("id smuggled in", jsonWith(registration, "id", `"0190a5b4-0000-7000-8000-000000000000"`), 400),
		logIn("email twice", `{"email":"a@example.com","email":"b@example.com","password":"p"}`, 400),
		placeOrder("items twice", `{"items":[{"product_id":"`+id+`","quantity":1}],"items":[{"product_id":"`+id+`","quantity":2}]}`, 400),
		placeOrder("quantity twice", `{"items":[{"product_id":"`+id+`","quantity":1,"quantity":2}]}`, 400),
		placeOrder("price smuggled in", `{"items":[{"product_id":"`+id+`","quantity":1,"unit_price_cents":0}]}`, 400),
		placeOrder("total smuggled in", `{"items":[{"product_id":"`+id+`","quantity":1}],"total_cents":0}`, 400),
	)

	add("path traversal",
		get("dot segments to users", "/api/catalog/../users/me", nil, 0),
		get("encoded dots", "/api/catalog/%2e%2e/users/me", nil, 0),
		get("encoded slash", "/api/catalog/..%2fusers%2fme", nil, 0),
		get("dot segments into another service", "/api/orders/../catalog/products/"+id+"/../../../users", nil, 0),
		get("double-encoded dots", "/api/catalog/products/%252e%252e%252fusers", nil, 404),
		get("backslashes", "/api/catalog/products/..%5C..%5Cusers", nil, 404),
		get("NUL in path", "/api/catalog/products/%00", nil, 0),
		hostile{name: "out of the API to internal routes", method: "GET", path: "/api/catalog/..%2f..%2finternal/reservations/" + id, status: 404, outsideAPI: true},
		hostile{name: "out of the API to metrics", method: "GET", path: "/api/users/../../metrics", status: 404, outsideAPI: true},
	)

	add("oversized bodies",
		createProduct("over 1 MiB", jsonWith(product, "description", jsonString(strings.Repeat("d", 1<<20))), 413),
		register("2 MiB", jsonWith(registration, "name", jsonString(strings.Repeat("n", 2<<20))), 413),
		hostile{name: "1.5 MiB chunked", method: "POST", path: "/api/orders", as: f.shopper, status: 413,
			body: strings.NewReader(`{"items":[{"product_id":"` + strings.Repeat("x", 3<<19) + `","quantity":1}]}`)},
		createProduct("exactly 1 MiB", exactly(1<<20, jsonWith(product, "description", `"%s"`)), 400),
	)

	for _, ct := range []string{"-", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "application/jsonx", "application/problem+json"} {
		add("content type "+ct,
			hostile{name: "create product", method: "POST", path: "/api/catalog/products", body: jsonWith(product), contentType: ct, as: f.admin, status: 415},
			hostile{name: "register", method: "POST", path: "/api/users/register", body: jsonWith(registration), contentType: ct, status: 415},
			hostile{name: "place order", method: "POST", path: "/api/orders", body: order(id, "1"), contentType: ct, as: f.shopper, status: 415},
		)
	}

	add("methods",
		hostile{name: "PUT products", method: "PUT", path: "/api/catalog/products", body: jsonWith(product), as: f.admin, status: 405},
		hostile{name: "DELETE products", method: "DELETE", path: "/api/catalog/products", as: f.admin, status: 405},
		hostile{name: "PUT a product", method: "PUT", path: "/api/catalog/products/" + id, body: `{"stock":0}`, as: f.admin, status: 405},
		hostile{name: "POST categories", method: "POST", path: "/api/catalog/categories", body: `{"slug":"x"}`, as: f.admin, status: 405},
		hostile{name: "GET login", method: "GET", path: "/api/users/login", status: 405},
		hostile{name: "DELETE me", method: "DELETE", path: "/api/users/me", as: f.shopper, status: 405},
		hostile{name: "PATCH orders", method: "PATCH", path: "/api/orders", body: `{}`, as: f.shopper, status: 405},
		hostile{name: "GET cancel", method: "GET", path: "/api/orders/" + id + "/cancel", as: f.shopper, status: 405},
		hostile{name: "TRACE", method: "TRACE", path: "/api/catalog/products", status: 405},
		hostile{name: "PROPFIND", method: "PROPFIND", path: "/api/catalog/products", status: 405},
		hostile{name: "made-up method", method: "QBAX", path: "/api/orders", as: f.shopper, status: 405},
		hostile{name: "made-up method on sign-in", method: "QBAX", path: "/api/users/login", status: 405},
	)

	add("query strings",
		get("limit -1", "/api/catalog/products?limit=-1", nil, 400),
		get("limit 0", "/api/catalog/products?limit=0", nil, 400),
		get("limit 101", "/api/catalog/products?limit=101", nil, 400),
		get("limit 1e9", "/api/catalog/products?limit=1e9", nil, 400),
		get("limit past int64", "/api/catalog/products?limit=99999999999999999999", nil, 400),
		get("limit a word", "/api/catalog/products?limit=all", nil, 400),
		get("limit twice", "/api/catalog/products?limit=1000&limit=1", nil, 400),
		get("cursor garbage", "/api/catalog/products?cursor=garbage", nil, 400),
		get("cursor NUL", "/api/catalog/products?cursor=%00", nil, 400),
		get("cursor of 4k characters", "/api/catalog/products?cursor="+strings.Repeat("A", 4000), nil, 400),
		get("cursor of another id form", "/api/catalog/products?cursor="+base64.RawURLEncoding.EncodeToString([]byte("v1:"+strings.ToUpper(id))), nil, 400),
		get("q of 201 characters", "/api/catalog/products?q="+strings.Repeat("q", 201), nil, 400),
		get("q of 10k characters", "/api/catalog/products?q="+strings.Repeat("q", 10_000), nil, 0),
		get("q with NUL", "/api/catalog/products?q=a%00b", nil, 400),
		get("q with CR LF", "/api/catalog/products?q=a%0d%0ab", nil, 400),
		get("q not UTF-8", "/api/catalog/products?q=%c0%af", nil, 400),
		get("category traversal", "/api/catalog/products?category=..%2F..%2Fetc", nil, 400),
		get("category upper case", "/api/catalog/products?category=Hostile", nil, 400),
		get("orders limit -1", "/api/orders?limit=-1", f.shopper, 400),
		get("orders limit 1e9", "/api/orders?limit=1e9", f.shopper, 400),
		get("orders cursor garbage", "/api/orders?cursor=garbage", f.shopper, 400),
		get("orders cursor before 1970", "/api/orders?cursor="+base64.RawURLEncoding.EncodeToString([]byte("v1:-1:"+id)), f.shopper, 400),
		get("users limit -1", "/api/users?limit=-1", f.admin, 400),
		get("users cursor garbage", "/api/users?cursor=garbage", f.admin, 400),
	)

	add("credentials",
		get("alg none token", "/api/orders", &Client{Token: unsignedToken()}, 401),
		get("HS256 keyed with the public key", "/api/orders", &Client{Token: hmacToken(t)}, 401),
		hostile{name: "HS256 admin token creates a product", method: "POST", path: "/api/catalog/products", body: jsonWith(product), as: &Client{Token: hmacToken(t)}, status: 401},
		get("token of 6k characters", "/api/orders", &Client{Token: strings.Repeat("A", 6000)}, 401),
		hostile{name: "basic auth", method: "GET", path: "/api/orders", headers: []string{"Authorization", "Basic YWRtaW5AYmF6YWFyLmxvY2FsOmNoYW5nZS1tZS1hZG1pbg=="}, status: 401},
		hostile{name: "no token", method: "POST", path: "/api/catalog/products", body: jsonWith(product), status: 401},
		hostile{name: "customer creates a product", method: "POST", path: "/api/catalog/products", body: jsonWith(product), as: f.shopper, status: 403},
		hostile{name: "customer deletes a product", method: "DELETE", path: "/api/catalog/products/" + id, as: f.shopper, status: 403},
		hostile{name: "customer lists accounts", method: "GET", path: "/api/users", as: f.shopper, status: 403},
		hostile{name: "refresh token garbage", method: "POST", path: "/api/users/refresh", body: `{"refresh_token":"garbage"}`, status: 401},
		hostile{name: "refresh token of 10k characters", method: "POST", path: "/api/users/refresh", body: `{"refresh_token":"` + strings.Repeat("A", 10_000) + `"}`, status: 401},
		hostile{name: "Idempotency-Key of 256", method: "POST", path: "/api/orders", body: order(id, "1"), as: f.shopper, headers: []string{"Idempotency-Key", strings.Repeat("k", 256)}, status: 400},
		hostile{name: "Idempotency-Key not ASCII", method: "POST", path: "/api/orders", body: order(id, "1"), as: f.shopper, headers: []string{"Idempotency-Key", "ключ-" + f.marker}, status: 400},
		hostile{name: "Idempotency-Key twice", method: "POST", path: "/api/orders", body: order(id, "1"), as: f.shopper,
			headers: []string{"Idempotency-Key", "a-" + f.marker, "Idempotency-Key", "b-" + f.marker}, status: 400},
	)

	host := "Host: bazaar\r\n"
	add("headers",
		hostile{name: "bare CR in X-Request-Id", raw: "GET /api/catalog/products HTTP/1.1\r\n" + host + "X-Request-Id: abc\rX-Injected: 1\r\nConnection: close\r\n\r\n", status: 400},
		hostile{name: "NUL in a header", raw: "GET /api/catalog/products HTTP/1.1\r\n" + host + "X-Request-Id: abc\x00def\r\nConnection: close\r\n\r\n", status: 400},
		hostile{name: "64 KiB header", raw: "GET /api/catalog/products HTTP/1.1\r\n" + host + "X-Big: " + strings.Repeat("b", 64<<10) + "\r\nConnection: close\r\n\r\n"},
		hostile{name: "1000 headers", raw: "GET /api/catalog/products HTTP/1.1\r\n" + host + strings.Repeat("X-Many: "+strings.Repeat("m", 100)+"\r\n", 1000) + "Connection: close\r\n\r\n"},
		hostile{name: "Content-Length and chunked", raw: "POST /api/users/login HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", status: 400},
		hostile{name: "negative Content-Length", raw: "POST /api/users/login HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: -1\r\nConnection: close\r\n\r\n", status: 400},
		hostile{name: "two Content-Lengths", raw: "POST /api/users/login HTTP/1.1\r\n" + host + "Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{}x", status: 400},
	)
	return cases
}

// manyLines is an order body of n lines.
func manyLines(n int) string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"product_id":"0190a5b4-0000-7000-8000-%012d","quantity":1}`, i)
	}
	return `{"items":[` + strings.Join(lines, ",") + `]}`
}

// exactly fills the %s of template with filler so that the body has size
// bytes.
func exactly(size int, template string) string {
	return fmt.Sprintf(template, strings.Repeat("x", size-len(template)+2))
}

// Answers that must not be refused still must not carry what an attacker
// put in a header: a request id with a line break in it, even encoded, is
// replaced, and no header of the request's making appears in the response.
func TestHostileRequestIDIsReplaced(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	for _, id := range []string{"abc%0d%0aX-Injected:%201", strings.Repeat("r", 129), "<script>alert(1)</script>", "a b"} {
		r := c.Do(t, "GET", "/api/catalog/products?limit=1", nil, "X-Request-Id", id).Expect(t, http.StatusOK, nil)
		if got := r.Header.Get("X-Request-Id"); got == id || got == "" || strings.ContainsAny(got, "\r\n<% ") {
			t.Errorf("X-Request-Id %q answered %q: want a fresh id", id, got)
		}
		if r.Header.Get("X-Injected") != "" {
			t.Errorf("X-Request-Id %q injected a response header", id)
		}
	}
	r := rawExchange(t, "GET /api/catalog/products?limit=1 HTTP/1.1\r\nHost: bazaar\r\nX-Request-Id: abc\nX-Injected: 1\r\nConnection: close\r\n\r\n")
	if r.Header.Get("X-Injected") != "" || strings.ContainsAny(r.Header.Get("X-Request-Id"), "\r\n") {
		t.Errorf("a bare LF in X-Request-Id reached the response headers: %v", r.Header)
	}
}

// Text with SQL and HTML metacharacters, quotes, right-to-left overrides
// and astral characters is data: stored verbatim, found by search, and
// returned escaped in JSON, never executed or rendered.
func TestHostileTextIsStoredVerbatim(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	word := uniqueWord()
	name := `Robert'); DROP TABLE products;-- <script>alert("x")</script> ` + word
	description := "1' OR '1'='1\n\t<img src=x onerror=alert(1)> \u202egnp.exe 𝕏 \\ \" %s %n ${jndi:ldap://x}"
	var p struct {
		ID, Name, Description string
	}
	r := admin.API.Do(t, "POST", "/api/catalog/products", map[string]any{
		"sku": "VERBATIM-" + word, "name": name, "description": description, "price_cents": 100, "stock": 1, "category": "verbatim-" + word,
	}).Expect(t, http.StatusCreated, &p)
	if p.Name != name || p.Description != description {
		t.Errorf("created %q / %q, want the text as sent", p.Name, p.Description)
	}
	r = newClient(t).Do(t, "GET", "/api/catalog/products/"+p.ID, nil).Expect(t, http.StatusOK, &p)
	if p.Name != name || p.Description != description {
		t.Errorf("read back %q / %q, want the text as sent", p.Name, p.Description)
	}
	if strings.Contains(string(r.Body), "<script>") || strings.Contains(string(r.Body), "<img") {
		t.Errorf("markup comes back unescaped in JSON: %s", r.Body)
	}
	if found := searchProducts(t, word); len(found) != 1 || found[0].ID != p.ID {
		t.Errorf("search for %s found %+v", word, found)
	}
	// Searching with the metacharacters themselves is a search like any other.
	for _, q := range []string{"Robert'); DROP TABLE products;--", `" OR ""="`, "<script>", "%", "\\", "&|!:*"} {
		newClient(t).Do(t, "GET", "/api/catalog/products?q="+url.QueryEscape(q), nil).Expect(t, http.StatusOK, nil)
	}
	newClient(t).Do(t, "GET", "/api/catalog/products?limit=1", nil).Expect(t, http.StatusOK, nil)

	// An account's name likewise. A lone surrogate escape is valid JSON
	// but no character: it is stored as U+FFFD, the replacement character.
	email := "verbatim-" + word + "@example.com"
	userName := `<img src=x onerror=alert(1)> O'Brien "; --`
	newClient(t).Do(t, "POST", "/api/users/register", `{"email":"`+email+`","password":"correct horse battery","name":`+jsonString(userName)+`}`).
		Expect(t, http.StatusCreated, nil)
	var me struct{ Name string }
	r = signIn(t, email, "correct horse battery").Do(t, "GET", "/api/users/me", nil).Expect(t, http.StatusOK, &me)
	if me.Name != userName || strings.Contains(string(r.Body), "<img") {
		t.Errorf("me: %s, want the name %q escaped", r.Body, userName)
	}
	surrogate := "surrogate-" + word + "@example.com"
	var u struct{ Name string }
	newClient(t).Do(t, "POST", "/api/users/register", `{"email":"`+surrogate+`","password":"correct horse battery","name":"a\ud800b"}`).
		Expect(t, http.StatusCreated, &u)
	if u.Name != "a\ufffdb" {
		t.Errorf("name %q, want a\\ufffdb", u.Name)
	}
	admin.API.Do(t, "DELETE", "/api/catalog/products/"+p.ID, nil).Expect(t, http.StatusNoContent, nil)
	newClient(t).Do(t, "GET", "/api/catalog/products/"+p.ID, nil).ExpectProblem(t, http.StatusNotFound, "not-found")
}
