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
	badNameChars := []apperr.FieldError{{Field: "name", Message: "must not contain control or invisible formatting characters"}}
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
		{"name with newline", with(func(r *users.Registration) { r.Name = "Ada\nLovelace" }), badNameChars},
		{"name with RLO", with(func(r *users.Registration) { r.Name = "Ada\u202Eecalevol" }), badNameChars},
		{"name with LRO", with(func(r *users.Registration) { r.Name = "\u202DAda" }), badNameChars},
		{"name with isolate", with(func(r *users.Registration) { r.Name = "Ada \u2067x\u2069" }), badNameChars},
		{"name with RLM", with(func(r *users.Registration) { r.Name = "Ada\u200F" }), badNameChars},
		{"name with ZWSP", with(func(r *users.Registration) { r.Name = "Ad\u200Ba" }), badNameChars},
		{"name only ZWSP", with(func(r *users.Registration) { r.Name = "\u200B" }), badNameChars},
		{"name with BOM", with(func(r *users.Registration) { r.Name = "\uFEFFAda" }), badNameChars},
		{"name with word joiner", with(func(r *users.Registration) { r.Name = "Ad\u2060a" }), badNameChars},
		{"name with soft hyphen", with(func(r *users.Registration) { r.Name = "Love\u00ADlace" }), badNameChars},
		{"name with tag characters", with(func(r *users.Registration) { r.Name = "Ada\U000E0041\U000E0042" }), badNameChars},
		{"name with ZWJ at the end", with(func(r *users.Registration) { r.Name = "Ada\u200D" }), badNameChars},
		{"name with ZWNJ after a space", with(func(r *users.Registration) { r.Name = "Ada \u200CLovelace" }), badNameChars},
		{"name with doubled ZWJ", with(func(r *users.Registration) { r.Name = "Ad\u200D\u200Da" }), badNameChars},
		{"name accented", with(func(r *users.Registration) { r.Name = "Zoë Ñúñez-Łukasiewicz" }), nil},
		{"name in other scripts", with(func(r *users.Registration) { r.Name = "李小龍 Ελένη עדה أدا" }), nil},
		{"name with emoji", with(func(r *users.Registration) { r.Name = "Ada 🚀✨" }), nil},
		{"name with skin tone emoji", with(func(r *users.Registration) { r.Name = "Ada \U0001F44B\U0001F3FD" }), nil},
		{"name with ZWJ emoji", with(func(r *users.Registration) { r.Name = "Ada \U0001F469\u200D\U0001F4BB" }), nil},
		{"name with ZWJ emoji and VS16", with(func(r *users.Registration) { r.Name = "Ada \u2764\uFE0F\u200D\U0001F525" }), nil},
		{"name Persian with ZWNJ", with(func(r *users.Registration) { r.Name = "\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645" }), nil},
		{"name Devanagari with ZWJ", with(func(r *users.Registration) { r.Name = "\u0915\u094D\u200D\u0937" }), nil},
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
