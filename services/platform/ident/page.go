package ident

import "fmt"

// MinLimit is the smallest page size a listing serves.
const MinLimit = 1

// CursorMessage is the problem message for a cursor the API did not make.
const CursorMessage = "is not a cursor returned by this API"

// ValidLimit reports whether n is a page size from MinLimit to maxLimit.
func ValidLimit(n, maxLimit int) bool { return n >= MinLimit && n <= maxLimit }

// LimitMessage is the problem message for a page size outside MinLimit to
// maxLimit.
func LimitMessage(maxLimit int) string {
	return fmt.Sprintf("must be an integer from %d to %d", MinLimit, maxLimit)
}
