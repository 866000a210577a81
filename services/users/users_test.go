package users_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bazaar/platform/apperr"
	"bazaar/users"
)

// fieldErrors returns the field errors of a validation error, or nil.
func fieldErrors(t *testing.T, err error) []apperr.FieldError {
	t.Helper()
	if err == nil {
		return nil
	}
	if apperr.Code(err) != apperr.Invalid {
		t.Fatalf("error %v: want code %s", err, apperr.Invalid)
	}
	return err.(*apperr.Error).Fields
}

func TestRegistrationValidate(t *testing.T) {
	t.Parallel()
	valid := users.Registration{Email: "ada@example.com", Password: "s3cret-pass", Name: "Ada Lovelace"}
	with := func(f func(r *users.Registration)) users.Registration {
		r := valid
		f(&r)
		return r
	}
	longEmail := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190) + ".com"
	badEmail := []apperr.FieldError{{Field: "email", Message: "is not a valid email address"}}
	badPassword := []apperr.FieldError{{Field: "password", Message: "must be 8 to 128 characters"}}
	badName := []apperr.FieldError{{Field: "name", Message: "must be 1 to 100 characters"}}
	for _, tc := range []struct {
		name string
		in   users.Registration
		want []apperr.FieldError
	}{
		{"valid", valid, nil},
		{"email trimmed", with(func(r *users.Registration) { r.Email = "  ada@example.com\t" }), nil},
		{"email upper case", with(func(r *users.Registration) { r.Email = "Ada@Example.COM" }), nil},
		{"email missing", with(func(r *users.Registration) { r.Email = "" }), []apperr.FieldError{{Field: "email", Message: "is required"}}},
		{"email without at", with(func(r *users.Registration) { r.Email = "ada.example.com" }), badEmail},
		{"email with display name", with(func(r *users.Registration) { r.Email = "Ada <ada@example.com>" }), badEmail},
		{"email with space", with(func(r *users.Registration) { r.Email = "ada lovelace@example.com" }), badEmail},
		{"email two ats", with(func(r *users.Registration) { r.Email = "ada@@example.com" }), badEmail},
		{"email too long", with(func(r *users.Registration) { r.Email = longEmail }),
			[]apperr.FieldError{{Field: "email", Message: "must be at most 254 bytes"}}},
		{"password 7 characters", with(func(r *users.Registration) { r.Password = "1234567" }), badPassword},
		{"password 8 characters", with(func(r *users.Registration) { r.Password = "12345678" }), nil},
		{"password 8 bytes but 4 runes", with(func(r *users.Registration) { r.Password = "üüüü" }), badPassword},
		{"password 128 runes of 2 bytes", with(func(r *users.Registration) { r.Password = strings.Repeat("é", 128) }), nil},
		{"password 129 characters", with(func(r *users.Registration) { r.Password = strings.Repeat("x", 129) }), badPassword},
		{"password spaces kept", with(func(r *users.Registration) { r.Password = "   1234   " }), nil},
		{"name missing", with(func(r *users.Registration) { r.Name = "" }), badName},
		{"name only spaces", with(func(r *users.Registration) { r.Name = "   " }), badName},
		{"name 100 characters", with(func(r *users.Registration) { r.Name = strings.Repeat("ß", 100) }), nil},
		{"name 101 characters", with(func(r *users.Registration) { r.Name = strings.Repeat("n", 101) }), badName},
		{"name with newline", with(func(r *users.Registration) { r.Name = "Ada\nLovelace" }),
			[]apperr.FieldError{{Field: "name", Message: "must not contain control characters"}}},
		{"everything wrong", users.Registration{Email: "nope", Password: "short"}, append(append(badEmail, badPassword...), badName...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.in
			r.Normalize()
			if diff := cmp.Diff(tc.want, fieldErrors(t, r.Validate())); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRegistrationNormalize(t *testing.T) {
	t.Parallel()
	r := users.Registration{Email: " Ada@Example.com ", Password: " pass word ", Name: "\tAda "}
	r.Normalize()
	want := users.Registration{Email: "Ada@Example.com", Password: " pass word ", Name: "Ada"}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("Normalize (-want +got):\n%s", diff)
	}
}

func TestEmailKey(t *testing.T) {
	t.Parallel()
	if got, want := users.EmailKey("  Ada@Example.COM "), "ada@example.com"; got != want {
		t.Errorf("EmailKey = %q, want %q", got, want)
	}
}

func TestCredentialsValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   users.Credentials
		want []apperr.FieldError
	}{
		{"both", users.Credentials{Email: "a@b.c", Password: "x"}, nil},
		{"anything goes but presence", users.Credentials{Email: "not an email", Password: "1"}, nil},
		{"none", users.Credentials{}, []apperr.FieldError{{Field: "email", Message: "is required"}, {Field: "password", Message: "is required"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, fieldErrors(t, tc.in.Validate())); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
		})
	}
}
