package e2e

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"

	"bazaar/e2e/internal/shop"
)

// The shop suite (e2e/internal/shop) on the Compose stack, one test per
// case, in parallel: the same cases e2e/swarm runs on the Swarm stack.

func TestShopStorefront(t *testing.T) {
	t.Parallel()
	shop.Storefront(t, theShop(t))
}

func TestShopOrderLifecycle(t *testing.T) {
	t.Parallel()
	shop.OrderLifecycle(t, theShop(t))
}

func TestShopOrderIsAllOrNothing(t *testing.T) {
	t.Parallel()
	shop.OrderIsAllOrNothing(t, theShop(t))
}

func TestShopConcurrentOrdersNeverOversell(t *testing.T) {
	t.Parallel()
	shop.ConcurrentOrdersNeverOversell(t, theShop(t))
}

func TestShopIdempotencyKeyPlacesOneOrder(t *testing.T) {
	t.Parallel()
	shop.IdempotencyKeyPlacesOneOrder(t, theShop(t))
}

func TestShopConcurrentCancelsReturnStockOnce(t *testing.T) {
	t.Parallel()
	shop.ConcurrentCancelsReturnStockOnce(t, theShop(t))
}

func TestShopOrdersOfOthersAreHidden(t *testing.T) {
	t.Parallel()
	shop.OrdersOfOthersAreHidden(t, theShop(t))
}

func TestShopTamperedTokensAreRejected(t *testing.T) {
	t.Parallel()
	shop.TamperedTokensAreRejected(t, theShop(t))
}

func TestShopCustomerOnAdminEndpoints(t *testing.T) {
	t.Parallel()
	shop.CustomerOnAdminEndpoints(t, theShop(t))
}

func TestShopWritesVisibleToNextRead(t *testing.T) {
	t.Parallel()
	shop.WritesVisibleToNextRead(t, theShop(t))
}

func TestShopOrderValidation(t *testing.T) {
	t.Parallel()
	shop.OrderValidation(t, theShop(t))
}

func TestShopCatalogPagination(t *testing.T) {
	t.Parallel()
	shop.CatalogPagination(t, theShop(t))
}

// TestShopSuiteLint: this file runs every case of the shop suite, each
// as TestShop<Name> calling shop.<Name>, and nothing else, so the Compose
// stack gets the whole suite that e2e/swarm runs.
func TestShopSuiteLint(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "shop_test.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]string{} // test name → the shop function it calls
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name == "TestShopSuiteLint" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "shop" && sel.Sel.Name != "Shop" {
					calls[fn.Name.Name] = sel.Sel.Name
				}
			}
			return true
		})
	}
	var want []string
	for _, tc := range shop.Tests {
		want = append(want, tc.Name)
		if got, ok := calls["TestShop"+tc.Name]; !ok || got != tc.Name {
			t.Errorf("shop.Tests has %s: want TestShop%s calling shop.%s here (it calls %q)", tc.Name, tc.Name, tc.Name, got)
		}
	}
	for name, called := range calls {
		if !slices.Contains(want, called) || name != "TestShop"+called {
			t.Errorf("%s calls shop.%s, which is not the suite case it is named after", name, called)
		}
	}
}
