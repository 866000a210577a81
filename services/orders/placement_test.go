package orders_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bazaar/orders"
	"bazaar/platform/apperr"
)

const (
	p1 = "0190f3a0-0000-7000-8000-000000000001"
	p2 = "0190f3a0-0000-7000-8000-000000000002"
)

func fe(field, message string) apperr.FieldError {
	return apperr.FieldError{Field: field, Message: message}
}

func line(productID string, quantity int) orders.Line {
	return orders.Line{ProductID: productID, Quantity: quantity}
}

func fieldsOf(err error) []apperr.FieldError {
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Invalid {
		return nil
	}
	return ae.Fields
}

func TestNewPlacement(t *testing.T) {
	t.Parallel()
	many := make([]orders.Line, orders.MaxLines+1)
	for i := range many {
		many[i] = orders.Line{ProductID: strings.Repeat("x", i+1), Quantity: 1}
	}
	tests := []struct {
		name   string
		lines  []orders.Line
		fields []apperr.FieldError // nil: valid
	}{
		{"one line", []orders.Line{line(p1, 1)}, nil},
		{"bounds", []orders.Line{line(p1, 1), line(p2, 1000)}, nil},
		{"a non-uuid id is not a validation error", []orders.Line{line("not-a-uuid", 1)}, nil},
		{"no lines", nil, []apperr.FieldError{fe("items", "must hold from 1 to 100 lines")}},
		{"too many lines", many, []apperr.FieldError{fe("items", "must hold from 1 to 100 lines")}},
		{"zero quantity", []orders.Line{line(p1, 0)}, []apperr.FieldError{fe("items[0].quantity", "must be an integer from 1 to 1000")}},
		{"quantity over 1000", []orders.Line{line(p1, 1001)}, []apperr.FieldError{fe("items[0].quantity", "must be an integer from 1 to 1000")}},
		{"negative quantity", []orders.Line{line(p1, -3)}, []apperr.FieldError{fe("items[0].quantity", "must be an integer from 1 to 1000")}},
		{"missing product", []orders.Line{line(p1, 1), line("", 2)}, []apperr.FieldError{fe("items[1].product_id", "is required")}},
		{"duplicate product, any case", []orders.Line{line(p1, 1), line(p2, 1), line(strings.ToUpper(p1), 2)},
			[]apperr.FieldError{fe("items[2].product_id", "repeats items[0]; send one line per product")}},
		{"every error at once", []orders.Line{line("", 0), line(p1, 5000)}, []apperr.FieldError{
			fe("items[0].product_id", "is required"),
			fe("items[0].quantity", "must be an integer from 1 to 1000"),
			fe("items[1].quantity", "must be an integer from 1 to 1000"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := orders.NewPlacement(tt.lines)
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("NewPlacement: %v", err)
				}
				return
			}
			if diff := cmp.Diff(tt.fields, fieldsOf(err)); diff != "" {
				t.Errorf("field errors (-want +got):\n%s\nerr: %v", diff, err)
			}
		})
	}
}

func TestPlacementNormalisesAndHashes(t *testing.T) {
	t.Parallel()
	upper, err := orders.NewPlacement([]orders.Line{line(strings.ToUpper(p1), 2), line(p2, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]orders.Line{line(p1, 2), line(p2, 1)}, upper.Lines()); diff != "" {
		t.Errorf("Lines (-want +got):\n%s", diff)
	}
	lower, _ := orders.NewPlacement([]orders.Line{line(p1, 2), line(p2, 1)})
	other, _ := orders.NewPlacement([]orders.Line{line(p1, 3), line(p2, 1)})
	swapped, _ := orders.NewPlacement([]orders.Line{line(p2, 1), line(p1, 2)})
	if !bytes.Equal(upper.Hash(), lower.Hash()) {
		t.Error("the same lines hash differently")
	}
	if bytes.Equal(lower.Hash(), other.Hash()) || bytes.Equal(lower.Hash(), swapped.Hash()) {
		t.Error("different requests hash alike")
	}
}

func TestCheckIdempotencyKey(t *testing.T) {
	t.Parallel()
	for key, ok := range map[string]bool{
		"a":                      true,
		"order 2024-05-01 #7 ~!": true,
		strings.Repeat("k", 255): true,
		"":                       false,
		strings.Repeat("k", 256): false,
		"tab\there":              false,
		"caf\u00e9":              false,
		"new\nline":              false,
		"del\x7f":                false,
	} {
		err := orders.CheckIdempotencyKey(key)
		if (err == nil) != ok {
			t.Errorf("CheckIdempotencyKey(%q) = %v, want ok=%v", key, err, ok)
		}
		if err != nil && apperr.Code(err) != apperr.Invalid {
			t.Errorf("CheckIdempotencyKey(%q) code = %s, want %s", key, apperr.Code(err), apperr.Invalid)
		}
	}
}
