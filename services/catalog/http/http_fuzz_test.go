package http

import (
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"bazaar/catalog"
	"bazaar/platform/apperr"
	"bazaar/platform/ident"
	"bazaar/platform/web"
)

// The fuzz targets below hold each request body of the catalog to one
// contract: a body either fails to decode with an invalid-request error
// (naming at most the one key whose value has the wrong type), or decodes
// into a request that the domain accepts or refuses with field errors
// naming the request's own fields; and what it accepts, the products table
// takes (valid UTF-8 without NUL, within the columns' CHECK constraints and
// types).

var productFields = []string{"sku", "name", "description", "price_cents", "currency", "stock", "category", "category_name"}

// productSeeds are valid and hostile product bodies.
var productSeeds = []string{
	``, `null`, `[]`, `{`, `{}`, `{} {}`, `{"id":"x"}`,
	`{"sku":"MUG-1","name":"Mug","description":"Blue.","price_cents":1299,"currency":"EUR","stock":5,"category":"home-garden","category_name":"Home & Garden"}`,
	`{"sku":"MUG-1","name":"Mug","price_cents":1e400,"stock":1,"category":"home"}`,
	`{"sku":"MUG-1","name":"Mug","price_cents":9223372036854775808,"stock":1,"category":"home"}`,
	`{"sku":"MUG-1","name":"Mug","price_cents":-1,"stock":-1,"category":"home"}`,
	`{"sku":"MUG-1","name":"Mug","price_cents":1.5,"stock":"1","category":"home"}`,
	`{"sku":"MUG-1","name":"M\u0000ug","description":"\u0000","price_cents":1,"stock":1,"category":"home"}`,
	`{"sku":"MUG-1","name":"\ud800\u202e\u200b","price_cents":1,"stock":1,"category":"home"}`,
	`{"sku":"MUG-1","name":"Mug\u202egnp.exe","price_cents":1,"stock":1,"category":"home","category_name":"Ho\u200bme\ufeff"}`,
	`{"sku":"x' OR 1=1--","name":"<script>alert(1)</script>","price_cents":1,"stock":1,"category":"../etc"}`,
	`{"sku":"A","sku":"B","name":"dup","price_cents":1,"stock":1,"category":"c"}`,
	`{"name":null,"sku":null}`,
	`{"category_name":"Orphan"}`,
	`{"currency":"usd"}`,
	`{"stock":2147483648}`,
}

// checkDecodeError fails the test unless err is DecodeJSON's invalid-request
// error, with at most one field error (for a value of the wrong JSON type)
// naming one of the request's keys.
func checkDecodeError(t *testing.T, body []byte, err error, keys ...string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Invalid || len(ae.Fields) > 1 {
		t.Fatalf("DecodeJSON(%q) = %#v, want an invalid-request *apperr.Error", body, err)
	}
	for _, f := range ae.Fields {
		if !slices.Contains(keys, f.Field) || f.Message == "" {
			t.Fatalf("DecodeJSON(%q): field error %+v names no key of the request", body, f)
		}
	}
}

// checkRefusal fails the test unless err is an invalid-request error whose
// field errors name only fields (or, when noFields, may have none).
func checkRefusal(t *testing.T, err error, noFields bool, fields ...string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Invalid || len(ae.Fields) == 0 && !noFields {
		t.Fatalf("validation = %#v, want an invalid-request *apperr.Error with field errors", err)
	}
	for _, f := range ae.Fields {
		if !slices.Contains(fields, f.Field) || f.Message == "" {
			t.Fatalf("field error %+v names no field of the request", f)
		}
	}
}

var (
	storedSKU      = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	storedSlug     = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	storedCurrency = regexp.MustCompile(`^[A-Z]{3}$`)
)

// invisible reports whether r is a bidi control (U+202E and the like), a
// zero-width space or a byte order mark: characters no name may hold.
func invisible(r rune) bool {
	return unicode.Is(unicode.Bidi_Control, r) || r == '\u200b' || r == '\ufeff'
}

// checkStorable fails the test unless the products table takes every field
// that in sets.
func checkStorable(t *testing.T, in catalog.ProductInput) {
	t.Helper()
	text := func(field string, s *string, maxLen int) {
		if s != nil && (!utf8.ValidString(*s) || strings.ContainsRune(*s, 0) || utf8.RuneCountInString(*s) > maxLen) {
			t.Fatalf("accepted %s %q", field, *s)
		}
	}
	text("name", in.Name, catalog.MaxNameLength)
	text("description", in.Description, catalog.MaxDescriptionLength)
	text("category_name", in.CategoryName, catalog.MaxCategoryNameLength)
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		t.Fatalf("accepted a blank name %q", *in.Name)
	}
	// Names hold no invisible bidi controls or zero-width spaces.
	for _, name := range []*string{in.Name, in.CategoryName} {
		if name != nil && strings.ContainsFunc(*name, invisible) {
			t.Fatalf("accepted name %+q", *name)
		}
	}
	if in.SKU != nil && !storedSKU.MatchString(*in.SKU) {
		t.Fatalf("accepted sku %q", *in.SKU)
	}
	if in.Category != nil && (!storedSlug.MatchString(*in.Category) || len(*in.Category) > catalog.MaxSlugLength) {
		t.Fatalf("accepted category %q", *in.Category)
	}
	if in.Currency != nil && !storedCurrency.MatchString(*in.Currency) {
		t.Fatalf("accepted currency %q", *in.Currency)
	}
	if in.PriceCents != nil && (*in.PriceCents < 0 || *in.PriceCents > catalog.MaxPriceCents) {
		t.Fatalf("accepted price_cents %d", *in.PriceCents)
	}
	// stock is a PostgreSQL integer: 32 bits.
	if in.Stock != nil && (*in.Stock < 0 || *in.Stock > catalog.MaxStock || *in.Stock > 1<<31-1) {
		t.Fatalf("accepted stock %d", *in.Stock)
	}
}

func FuzzDecodeProductCreate(f *testing.F) {
	for _, s := range productSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in catalog.ProductInput
		if err := web.DecodeJSON(body, &in); err != nil {
			checkDecodeError(t, body, err, productFields...)
			return
		}
		if err := in.ValidateCreate(); err != nil {
			checkRefusal(t, err, false, productFields...)
			return
		}
		if in.SKU == nil || in.Name == nil || in.PriceCents == nil || in.Stock == nil || in.Category == nil {
			t.Fatalf("accepted a creation without a required field: %q", body)
		}
		checkStorable(t, in)
	})
}

func FuzzDecodeProductPatch(f *testing.F) {
	for _, s := range productSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in catalog.ProductInput
		if err := web.DecodeJSON(body, &in); err != nil {
			checkDecodeError(t, body, err, productFields...)
			return
		}
		if err := in.ValidateUpdate(); err != nil {
			// An update that sets nothing is refused as a whole.
			checkRefusal(t, err, in == (catalog.ProductInput{}), productFields...)
			return
		}
		if in == (catalog.ProductInput{}) || in.CategoryName != nil && in.Category == nil {
			t.Fatalf("accepted update %q", body)
		}
		checkStorable(t, in)
	})
}

// fuzzNow is the clock of FuzzDecodeReservationRequest: the time its order
// id was made.
var fuzzNow = time.UnixMilli(0x0190a5b41c2d)

// FuzzDecodeReservationRequest covers the internal route the orders service
// calls with its own clients' product ids, whatever their form.
func FuzzDecodeReservationRequest(f *testing.F) {
	const order, product = "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b", "0190a5b4-1c2d-7e3f-8a4b-000000000001"
	for _, s := range []string{
		``, `null`, `{}`, `{"order_id":"x","items":[]}`,
		`{"order_id":"` + order + `","items":[{"product_id":"` + product + `","quantity":2}]}`,
		`{"order_id":"` + strings.ToUpper(order) + `","items":[{"product_id":"` + product + `","quantity":1},{"product_id":"` + strings.ToUpper(product) + `","quantity":1}]}`,
		`{"order_id":"` + order + `","items":[{"product_id":"not-a-uuid","quantity":1}]}`,
		`{"order_id":"` + order + `","items":[{"product_id":"` + product + `","quantity":-1}]}`,
		`{"order_id":"` + order + `","items":[{"product_id":"` + product + `","quantity":9223372036854775808}]}`,
		`{"order_id":"` + order + `","items":[{"product_id":"` + product + `\u0000","quantity":1}]}`,
		`{"order_id":"` + order + `","items":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req catalog.ReservationRequest
		if err := web.DecodeJSON(body, &req); err != nil {
			checkDecodeError(t, body, err, "order_id", "items", "items.product_id", "items.quantity")
			return
		}
		norm, err := req.Normalize(fuzzNow)
		if apperr.Code(err) == apperr.Unprocessable {
			return // a product id of no product's form: an unknown product
		}
		if catalog.IsOrderExpired(err) {
			return // an order id made too long before fuzzNow
		}
		if err != nil {
			checkRefusal(t, err, false, reservationFields(len(req.Items))...)
			return
		}
		if !ident.IsUUID(norm.OrderID) || norm.OrderID != strings.ToLower(norm.OrderID) || norm.OrderID[14] != '7' ||
			len(norm.Items) < 1 || len(norm.Items) > catalog.MaxReservationLines {
			t.Fatalf("accepted %q as %+v", body, norm)
		}
		seen := map[string]bool{}
		for _, line := range norm.Items {
			if !ident.IsUUID(line.ProductID) || line.ProductID != strings.ToLower(line.ProductID) || seen[line.ProductID] ||
				line.Quantity < 1 || line.Quantity > catalog.MaxLineQuantity {
				t.Fatalf("accepted %q with line %+v", body, line)
			}
			seen[line.ProductID] = true
		}
	})
}

// reservationFields names the fields a reservation of n lines has.
func reservationFields(n int) []string {
	fields := []string{"order_id", "items"}
	for i := range n {
		fields = append(fields, "items["+strconv.Itoa(i)+"].product_id", "items["+strconv.Itoa(i)+"].quantity")
	}
	return fields
}
