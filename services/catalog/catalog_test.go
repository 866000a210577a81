package catalog_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

func ptr[T any](v T) *T { return &v }

func TestSlugs(t *testing.T) {
	t.Parallel()
	for slug, want := range map[string]bool{
		"books": true, "home-garden": true, "a1-b2-c3": true, "x": true,
		"": false, "Home": false, "home--garden": false, "-home": false, "home-": false, "home garden": false, "home_garden": false,
		strings.Repeat("a", 64): true, strings.Repeat("a", 65): false,
	} {
		if got := catalog.ValidSlug(slug); got != want {
			t.Errorf("ValidSlug(%q) = %v, want %v", slug, got, want)
		}
	}
	for slug, want := range map[string]string{"home-garden": "Home Garden", "books": "Books", "4k-tv": "4k Tv"} {
		if got := catalog.CategoryNameFromSlug(slug); got != want {
			t.Errorf("CategoryNameFromSlug(%q) = %q, want %q", slug, got, want)
		}
	}
}

func validInput() catalog.ProductInput {
	return catalog.ProductInput{SKU: ptr("SKU-1"), Name: ptr("Lamp"), PriceCents: ptr(int64(0)), Stock: ptr(0), Category: ptr("home")}
}

// fields returns the names of the invalid fields err lists.
func fields(err error) []string {
	e, ok := err.(*apperr.Error)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestValidateCreate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		change func(*catalog.ProductInput)
		fields []string
	}{
		{"valid with zero price and stock", func(*catalog.ProductInput) {}, nil},
		{"every optional field", func(in *catalog.ProductInput) {
			in.Description, in.Currency, in.CategoryName = ptr("Line one.\nLine two.\tTabbed."), ptr("EUR"), ptr("Home & Living")
		}, nil},
		{"required fields missing", func(in *catalog.ProductInput) { *in = catalog.ProductInput{} }, []string{"sku", "name", "price_cents", "stock", "category"}},
		{"sku with space", func(in *catalog.ProductInput) { in.SKU = ptr("A 1") }, []string{"sku"}},
		{"sku too long", func(in *catalog.ProductInput) { in.SKU = ptr(strings.Repeat("A", 65)) }, []string{"sku"}},
		{"sku longest", func(in *catalog.ProductInput) { in.SKU = ptr(strings.Repeat("A", 64)) }, nil},
		{"sku empty", func(in *catalog.ProductInput) { in.SKU = ptr("") }, []string{"sku"}},
		{"name empty", func(in *catalog.ProductInput) { in.Name = ptr("") }, []string{"name"}},
		{"name blank", func(in *catalog.ProductInput) { in.Name = ptr(" \t") }, []string{"name"}},
		{"name 200 runes", func(in *catalog.ProductInput) { in.Name = ptr(strings.Repeat("é", 200)) }, nil},
		{"name 201 runes", func(in *catalog.ProductInput) { in.Name = ptr(strings.Repeat("é", 201)) }, []string{"name"}},
		{"name with newline", func(in *catalog.ProductInput) { in.Name = ptr("a\nb") }, []string{"name"}},
		{"name with NUL", func(in *catalog.ProductInput) { in.Name = ptr("a\x00b") }, []string{"name"}},
		{"name not UTF-8", func(in *catalog.ProductInput) { in.Name = ptr("a\xffb") }, []string{"name"}},
		{"description 5000", func(in *catalog.ProductInput) { in.Description = ptr(strings.Repeat("x", 5000)) }, nil},
		{"description 5001", func(in *catalog.ProductInput) { in.Description = ptr(strings.Repeat("x", 5001)) }, []string{"description"}},
		{"description NUL", func(in *catalog.ProductInput) { in.Description = ptr("\x00") }, []string{"description"}},
		{"price negative", func(in *catalog.ProductInput) { in.PriceCents = ptr(int64(-1)) }, []string{"price_cents"}},
		{"price highest", func(in *catalog.ProductInput) { in.PriceCents = ptr(int64(100_000_000)) }, nil},
		{"price too high", func(in *catalog.ProductInput) { in.PriceCents = ptr(int64(100_000_001)) }, []string{"price_cents"}},
		{"currency lowercase", func(in *catalog.ProductInput) { in.Currency = ptr("usd") }, []string{"currency"}},
		{"currency long", func(in *catalog.ProductInput) { in.Currency = ptr("USDX") }, []string{"currency"}},
		{"stock negative", func(in *catalog.ProductInput) { in.Stock = ptr(-1) }, []string{"stock"}},
		{"stock highest", func(in *catalog.ProductInput) { in.Stock = ptr(1_000_000) }, nil},
		{"stock too high", func(in *catalog.ProductInput) { in.Stock = ptr(1_000_001) }, []string{"stock"}},
		{"category not a slug", func(in *catalog.ProductInput) { in.Category = ptr("Home") }, []string{"category"}},
		{"category name blank", func(in *catalog.ProductInput) { in.CategoryName = ptr(" ") }, []string{"category_name"}},
		{"category name too long", func(in *catalog.ProductInput) { in.CategoryName = ptr(strings.Repeat("n", 101)) }, []string{"category_name"}},
		{"category name accented", func(in *catalog.ProductInput) { in.CategoryName = ptr("Café & Crème") }, nil},
		{"category name with RLO", func(in *catalog.ProductInput) { in.CategoryName = ptr("Home\u202eemoH") }, []string{"category_name"}},
		{"category name with ZWSP", func(in *catalog.ProductInput) { in.CategoryName = ptr("Ho\u200bme") }, []string{"category_name"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := validInput()
			c.change(&in)
			err := in.ValidateCreate()
			if c.fields == nil && err != nil || c.fields != nil && apperr.Code(err) != apperr.Invalid {
				t.Fatalf("ValidateCreate = %v, want invalid fields %v", err, c.fields)
			}
			if diff := cmp.Diff(c.fields, fields(err)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	t.Parallel()
	if err := (catalog.ProductInput{}).ValidateUpdate(); apperr.Code(err) != apperr.Invalid {
		t.Errorf("empty update: %v, want invalid", err)
	}
	if err := (catalog.ProductInput{Stock: ptr(3)}).ValidateUpdate(); err != nil {
		t.Errorf("stock only: %v", err)
	}
	if diff := cmp.Diff([]string{"category_name"}, fields((catalog.ProductInput{CategoryName: ptr("X")}).ValidateUpdate())); diff != "" {
		t.Errorf("category_name alone (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"price_cents"}, fields((catalog.ProductInput{PriceCents: ptr(int64(-5))}).ValidateUpdate())); diff != "" {
		t.Errorf("bad price (-want +got):\n%s", diff)
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	p := catalog.Product{ID: "id", SKU: "A", Name: "Old", Description: "d", PriceCents: 1, Currency: "USD", Stock: 2, Category: "c"}
	got := catalog.ProductInput{Name: ptr("New"), Stock: ptr(0)}.Apply(p)
	want := p
	want.Name, want.Stock = "New", 0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Apply (-want +got):\n%s", diff)
	}
}

func TestFilterValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f     catalog.ProductFilter
		field string
	}{
		{catalog.ProductFilter{Limit: 1}, ""},
		{catalog.ProductFilter{Limit: 100, Query: strings.Repeat("ü", 200), Category: "a-b", After: "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"}, ""},
		{catalog.ProductFilter{Limit: 0}, "limit"},
		{catalog.ProductFilter{Limit: 101}, "limit"},
		{catalog.ProductFilter{Limit: 1, Query: strings.Repeat("ü", 201)}, "q"},
		{catalog.ProductFilter{Limit: 1, Query: "\x00"}, "q"},
		{catalog.ProductFilter{Limit: 1, Category: "A"}, "category"},
		{catalog.ProductFilter{Limit: 1, After: "x"}, "cursor"},
	} {
		got := fields(c.f.Validate())
		if c.field == "" && got != nil || c.field != "" && !cmp.Equal(got, []string{c.field}) {
			t.Errorf("%+v: invalid fields %v, want %q", c.f, got, c.field)
		}
	}
}

func TestNormalizeReservation(t *testing.T) {
	t.Parallel()
	order, p1, p2 := "0190A5B4-1C2D-7E3F-8A4B-5C6D7E8F9A0B", "0190a5b4-0000-7000-8000-000000000001", "0190a5b4-0000-7000-8000-000000000002"
	// now is 10 s after order was made.
	now := time.UnixMilli(0x0190a5b41c2d).Add(10 * time.Second)
	// madeAgo returns a UUIDv7 order id made d before now.
	madeAgo := func(d time.Duration) string {
		ms := now.Add(-d).UnixMilli()
		return fmt.Sprintf("%08x-%04x-7abc-8def-0123456789ab", ms>>16, ms&0xffff)
	}
	lines := func(ls ...catalog.ReservationLine) []catalog.ReservationLine { return ls }
	many := make([]catalog.ReservationLine, catalog.MaxReservationLines+1)
	for i := range many {
		many[i] = catalog.ReservationLine{ProductID: "0190a5b4-0000-7000-8000-" + strings.Repeat("0", 9) + string(rune('0'+i/100)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10)), Quantity: 1}
	}
	for _, c := range []struct {
		name   string
		req    catalog.ReservationRequest
		code   string
		fields []string
	}{
		{"valid", catalog.ReservationRequest{OrderID: order, Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1}, catalog.ReservationLine{ProductID: p2, Quantity: 1000})}, "", nil},
		{"bad order id", catalog.ReservationRequest{OrderID: "o-1", Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1})}, apperr.Invalid, []string{"order_id"}},
		{"no items", catalog.ReservationRequest{OrderID: order}, apperr.Invalid, []string{"items"}},
		{"too many items", catalog.ReservationRequest{OrderID: order, Items: many}, apperr.Invalid, []string{"items"}},
		{"zero quantity", catalog.ReservationRequest{OrderID: order, Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 0})}, apperr.Invalid, []string{"items[0].quantity"}},
		{"too many units", catalog.ReservationRequest{OrderID: order, Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1001})}, apperr.Invalid, []string{"items[0].quantity"}},
		{"same product twice in two spellings", catalog.ReservationRequest{OrderID: order, Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1}, catalog.ReservationLine{ProductID: strings.ToUpper(p1), Quantity: 1})}, apperr.Invalid, []string{"items[1].product_id"}},
		{"product id of another form", catalog.ReservationRequest{OrderID: order, Items: lines(catalog.ReservationLine{ProductID: "42", Quantity: 1})}, apperr.Unprocessable, nil},
		{"empty product id", catalog.ReservationRequest{OrderID: order, Items: lines(catalog.ReservationLine{Quantity: 1})}, apperr.Unprocessable, nil},
		{"version 4 order id", catalog.ReservationRequest{OrderID: "0190a5b4-1c2d-4e3f-8a4b-5c6d7e8f9a0b", Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1})}, apperr.Invalid, []string{"order_id"}},
		{"order id of another variant", catalog.ReservationRequest{OrderID: "0190a5b4-1c2d-7e3f-ca4b-5c6d7e8f9a0b", Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1})}, apperr.Invalid, []string{"order_id"}},
		{"order id in braces", catalog.ReservationRequest{OrderID: "{" + order + "}", Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1})}, apperr.Invalid, []string{"order_id"}},
		{"order id made 10 s ago", catalog.ReservationRequest{OrderID: madeAgo(10 * time.Second), Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1})}, "", nil},
		{"order id made just MaxReservationAge ago", catalog.ReservationRequest{OrderID: madeAgo(catalog.MaxReservationAge), Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1})}, "", nil},
		{"order id made in the future", catalog.ReservationRequest{OrderID: madeAgo(-time.Hour), Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1})}, "", nil},
		{"order id made a millisecond earlier", catalog.ReservationRequest{OrderID: madeAgo(catalog.MaxReservationAge + time.Millisecond), Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1})}, apperr.Conflict, nil},
		{"order id made 2 minutes ago", catalog.ReservationRequest{OrderID: madeAgo(2 * time.Minute), Items: lines(catalog.ReservationLine{ProductID: p1, Quantity: 1})}, apperr.Conflict, nil},
		{"expired before unknown product", catalog.ReservationRequest{OrderID: madeAgo(2 * time.Minute), Items: lines(catalog.ReservationLine{ProductID: "42", Quantity: 1})}, apperr.Conflict, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.req.Normalize(now)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.OrderID != strings.ToLower(c.req.OrderID) || got.Items[0].ProductID != p1 {
					t.Errorf("normalized = %+v, want lowercase ids", got)
				}
				return
			}
			if apperr.Code(err) != c.code {
				t.Fatalf("error %v, want code %s", err, c.code)
			}
			if c.code == apperr.Conflict && !catalog.IsOrderExpired(err) {
				t.Errorf("error %v, want OrderExpired", err)
			}
			if diff := cmp.Diff(c.fields, fields(err)); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOrderExpired(t *testing.T) {
	t.Parallel()
	err := catalog.OrderExpired("0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Conflict || !catalog.IsOrderExpired(err) {
		t.Fatalf("OrderExpired = %#v, want a Conflict that IsOrderExpired recognizes", err)
	}
	if want := `Order id "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b" was made more than 30s ago; stock is reserved only within 30s of making the order id.`; ae.Message != want {
		t.Errorf("message = %q, want %q", ae.Message, want)
	}
	if !catalog.IsOrderExpired(fmt.Errorf("reserve: %w", err)) {
		t.Error("IsOrderExpired does not see through wrapping")
	}
	for _, other := range []error{nil, apperr.Errorf(apperr.Conflict, "Order %s was released.", "x"), errors.New("x")} {
		if catalog.IsOrderExpired(other) {
			t.Errorf("IsOrderExpired(%v) = true", other)
		}
	}
}

func TestValidateReservedRange(t *testing.T) {
	t.Parallel()
	const zero, id = "00000000-0000-0000-0000-000000000000", "0190A5B4-1C2D-4E3F-8A4B-5C6D7E8F9A0B"
	for _, c := range []struct {
		after, before string
		limit         int
		fields        []string
	}{
		{zero, id, 1, nil},
		{id, zero, catalog.MaxReservedLimit, nil},
		{"", id, 1, []string{"after"}},
		{zero, "", 1, []string{"before"}},
		{"{" + zero + "}", id, 1, []string{"after"}},
		{zero, "00000000000000000000000000000000", 1, []string{"before"}},
		{zero, id, 0, []string{"limit"}},
		{zero, id, catalog.MaxReservedLimit + 1, []string{"limit"}},
		{"x", "y", -1, []string{"after", "before", "limit"}},
	} {
		err := catalog.ValidateReservedRange(c.after, c.before, c.limit)
		if diff := cmp.Diff(c.fields, fields(err)); diff != "" || (err == nil) != (c.fields == nil) {
			t.Errorf("ValidateReservedRange(%q, %q, %d) = %v; fields (-want +got):\n%s", c.after, c.before, c.limit, err, diff)
		}
	}
}

func TestReservationUnits(t *testing.T) {
	t.Parallel()
	r := catalog.Reservation{Items: []catalog.ReservedItem{{Quantity: 2}, {Quantity: 40}}}
	if got := r.Units(); got != 42 {
		t.Errorf("Units = %d, want 42", got)
	}
}

// Names refuse Unicode format characters (category Cf), which are invisible:
// bidi controls reorder the text shown around them and zero-width ones make
// names that look alike differ. Joiners that words and emoji need are kept.
func TestNamesRefuseFormatCharacters(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		valid bool
	}{
		{"Crème Brûlée Set", true},
		{"Ærø Ålesund Øl – 北京 – Ελληνικά – עברית – العربية", true},
		{"Party Pack 🎉🎈", true},
		{"Coder Mug \U0001F469\u200D\U0001F4BB", true},                 // woman technologist: ZWJ sequence
		{"Family \U0001F468\u200D\U0001F469\u200D\U0001F467", true},    // family: ZWJ sequence
		{"Hot \u2764\uFE0F\u200D\U0001F525 Sauce", true},               // heart on fire: VS16 then ZWJ
		{"Thumbs \U0001F44D\U0001F3FD", true},                          // skin tone modifier
		{"\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645 Tea", true}, // Persian with ZWNJ
		{"\u0915\u094D\u200D\u0937 Spice", true},                       // Devanagari with ZWJ
		{"Lamp\u202Egnp.exe", false},                                   // RIGHT-TO-LEFT OVERRIDE
		{"\u202DLamp", false},                                          // LEFT-TO-RIGHT OVERRIDE
		{"Lamp\u2066x\u2069", false},                                   // isolates
		{"Lamp\u200F", false},                                          // RIGHT-TO-LEFT MARK
		{"La\u200Bmp", false},                                          // ZERO WIDTH SPACE
		{"\uFEFFLamp", false},                                          // BOM / ZERO WIDTH NO-BREAK SPACE
		{"La\u2060mp", false},                                          // WORD JOINER
		{"La\u00ADmp", false},                                          // SOFT HYPHEN
		{"Lamp\U000E0041\U000E0042", false},                            // tag characters (hidden text)
		{"\u200DLamp", false},                                          // ZWJ at the start
		{"Lamp\u200C", false},                                          // ZWNJ at the end
		{"La \u200D mp", false},                                        // ZWJ between spaces
		{"La\u200D\u200Dmp", false},                                    // doubled ZWJ
	} {
		want := []string{"name", "category_name"}
		if c.valid {
			want = nil
		}
		for _, validate := range []struct {
			op string
			in catalog.ProductInput
			fn func(catalog.ProductInput) error
		}{
			{"create", validInput(), catalog.ProductInput.ValidateCreate},
			{"update", catalog.ProductInput{Category: ptr("home")}, catalog.ProductInput.ValidateUpdate},
		} {
			in := validate.in
			in.Name, in.CategoryName = ptr(c.name), ptr(c.name)
			err := validate.fn(in)
			if diff := cmp.Diff(want, fields(err)); diff != "" {
				t.Errorf("%s %+q: invalid fields (-want +got):\n%s", validate.op, c.name, diff)
			}
			if want != nil && apperr.Code(err) != apperr.Invalid {
				t.Errorf("%s %+q: %v, want invalid", validate.op, c.name, err)
			}
		}
	}
}
