package http

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"bazaar/platform/apperr"
	"bazaar/platform/web"
	"bazaar/users"
)

// The fuzz targets below hold each request body of the users API to one
// contract: a body either fails to decode with an invalid-request error
// (naming at most the one key whose value has the wrong type), or decodes
// into a request that the domain accepts or refuses with field errors
// naming the request's own fields; and what it accepts, PostgreSQL can
// store (valid UTF-8, no NUL, within the columns' CHECK constraints).

// bodySeeds are hostile bodies every decoder target starts from.
var bodySeeds = []string{
	``, `null`, `[]`, `"x"`, `{`, `{}`, `{} {}`, `{"a":1}`,
	`{"email":1e400}`, `{"email":9223372036854775808}`, `{"email":true,"password":[],"name":{}}`,
	`{"email":"a@b.c","email":"x@y.z"}`,
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

// checkValidation fails the test unless err is nil or an invalid-request
// error whose field errors name only fields.
func checkValidation(t *testing.T, err error, fields ...string) {
	t.Helper()
	if err == nil {
		return
	}
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Invalid || len(ae.Fields) == 0 {
		t.Fatalf("validation = %#v, want an invalid-request *apperr.Error with field errors", err)
	}
	for _, f := range ae.Fields {
		if !slices.Contains(fields, f.Field) || f.Message == "" {
			t.Fatalf("field error %+v names no field of the request", f)
		}
	}
}

// storable reports whether PostgreSQL's text type can hold s.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

func FuzzDecodeRegistration(f *testing.F) {
	for _, s := range append(bodySeeds,
		`{"email":"ada@example.com","password":"correct horse","name":"Ada"}`,
		`{"email":" ADA@Example.COM ","password":"        ","name":" Ada "}`,
		`{"email":"a\u0000@b.c","password":"correct horse","name":"A\u0000da"}`,
		`{"email":"\"a b\"@example.com","password":"correct horse","name":"\u202eadA"}`,
		`{"email":"ada@example.com","password":"correct horse","name":"Ada\u202eecalevoL"}`,
		`{"email":"ada@example.com","password":"correct horse","name":"A\u200bda\ufeff"}`,
		`{"email":"ada@example.com","password":"correct horse","name":"\ud800"}`,
		`{"email":"ada@[127.0.0.1]","password":"' OR 1=1 --","name":"<script>alert(1)</script>"}`,
		`{"email":"ada@example.com","password":"correct horse","name":"Ada","role":"admin"}`,
	) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r users.Registration
		if err := web.DecodeJSON(body, &r); err != nil {
			checkDecodeError(t, body, err, "email", "password", "name")
			return
		}
		r.Normalize()
		err := r.Validate()
		checkValidation(t, err, "email", "password", "name")
		if err != nil {
			return
		}
		if !storable(r.Email) || len(r.Email) < 3 || len(r.Email) > users.MaxEmailLen || !strings.Contains(r.Email, "@") {
			t.Fatalf("accepted email %q", r.Email)
		}
		invisible := func(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) || r == '\u200b' || r == '\ufeff' }
		if n := utf8.RuneCountInString(r.Name); !storable(r.Name) || n < 1 || n > users.MaxNameLen || strings.ContainsFunc(r.Name, invisible) {
			t.Fatalf("accepted name %q", r.Name)
		}
		if n := utf8.RuneCountInString(r.Password); n < users.MinPasswordLen || n > users.MaxPasswordLen {
			t.Fatalf("accepted a password of %d characters", n)
		}
	})
}

// FuzzDecodeCredentials also holds the login to what it may send to the
// store: only an address that registration would accept, never one holding
// NUL, which PostgreSQL cannot compare.
func FuzzDecodeCredentials(f *testing.F) {
	for _, s := range append(bodySeeds,
		`{"email":"ada@example.com","password":"correct horse"}`,
		`{"email":"nul\u0000@example.com","password":"x"}`,
		`{"email":"ada@example.com\u0000","password":"x"}`,
		`{"email":"' OR '1'='1","password":"' OR '1'='1"}`,
		`{"email":"","password":""}`,
	) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var c users.Credentials
		if err := web.DecodeJSON(body, &c); err != nil {
			checkDecodeError(t, body, err, "email", "password")
			return
		}
		err := c.Validate()
		checkValidation(t, err, "email", "password")
		if err != nil {
			return
		}
		r := users.Registration{Email: c.Email, Password: "long enough", Name: "n"}
		r.Normalize()
		if r.Validate() == nil && !storable(users.EmailKey(c.Email)) {
			t.Fatalf("the login would look %q up in the store", users.EmailKey(c.Email))
		}
	})
}

func FuzzDecodeRefresh(f *testing.F) {
	for _, s := range append(bodySeeds,
		`{"refresh_token":"`+strings.Repeat("A", 43)+`"}`,
		`{"refresh_token":"\u0000"}`,
		`{"refresh_token":null}`,
		`{"refresh_token":""}`,
	) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b refreshBody
		if err := web.DecodeJSON(body, &b); err != nil {
			checkDecodeError(t, body, err, "refresh_token")
		}
	})
}
