package ident_test

import (
	"testing"
	"time"

	"bazaar/platform/ident"
)

func TestIsUUID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"0190a3b1-7c2d-7e4f-8a6b-1c2d3e4f5a6b":  true,
		"0190A3B1-7C2D-7E4F-8A6B-1C2D3E4F5A6B":  true,
		"00000000-0000-0000-0000-000000000000":  true,
		"":                                      false,
		"0190a3b17c2d7e4f8a6b1c2d3e4f5a6b":      false,
		"0190a3b1-7c2d-7e4f-8a6b-1c2d3e4f5a6":   false,
		"0190a3b1-7c2d-7e4f-8a6b-1c2d3e4f5a6bb": false,
		"0190a3b1-7c2d-7e4f-8a6b_1c2d3e4f5a6b":  false,
		"g190a3b1-7c2d-7e4f-8a6b-1c2d3e4f5a6b":  false,
		"0190a3b1-7c2d-7e4f-8a6b-1c2d3e4f5a6é":  false,
		"' OR 1=1 --":                           false,
		"42":                                    false,
	} {
		if got := ident.IsUUID(s); got != want {
			t.Errorf("IsUUID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestIsUUIDv7(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"0190a3b1-7c2d-7e4f-8a6b-1c2d3e4f5a6b":  true,
		"0190A3B1-7C2D-7E4F-BA6B-1C2D3E4F5A6B":  true,
		"0190a3b1-7c2d-4e4f-8a6b-1c2d3e4f5a6b":  false, // version 4
		"0190a3b1-7c2d-7e4f-ca6b-1c2d3e4f5a6b":  false, // another variant
		"0190a3b1-7c2d-7e4f-7a6b-1c2d3e4f5a6b":  false, // the NCS variant
		"00000000-0000-0000-0000-000000000000":  false,
		"{0190a3b1-7c2d-7e4f-8a6b-1c2d3e4f5a6}": false,
		"":                                      false,
	} {
		if got := ident.IsUUIDv7(s); got != want {
			t.Errorf("IsUUIDv7(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestUUIDTime(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]time.Time{
		"0190a3b1-7c2d-7e4f-8a6b-1c2d3e4f5a6b": time.UnixMilli(0x0190a3b17c2d),
		"0190A3B1-7C2D-7E4F-8A6B-1C2D3E4F5A6B": time.UnixMilli(0x0190a3b17c2d),
		"00000000-0000-0000-0000-000000000000": time.UnixMilli(0),
		"ffffffff-ffff-0000-0000-000000000000": time.UnixMilli(1<<48 - 1),
	} {
		if got := ident.UUIDTime(s); !got.Equal(want) {
			t.Errorf("UUIDTime(%q) = %v, want %v", s, got, want)
		}
	}
}
