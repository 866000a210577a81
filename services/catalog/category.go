package catalog

import (
	"regexp"
	"strings"
)

// Category groups products. Slug is its identifier in URLs and filters.
type Category struct {
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	ProductCount int    `json:"product_count"`
}

// Limits of a category's fields; the slug rule is the migration's CHECK.
const (
	MaxSlugLength         = 64
	MaxCategoryNameLength = 100
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidSlug reports whether s can identify a category.
func ValidSlug(s string) bool {
	return len(s) <= MaxSlugLength && slugPattern.MatchString(s)
}

// CategoryNameFromSlug is the name a category gets when a product creates it
// without naming it: "home-garden" becomes "Home Garden".
func CategoryNameFromSlug(slug string) string {
	words := strings.Split(slug, "-")
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}
