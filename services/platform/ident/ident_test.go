package ident_test

import (
	"testing"

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
