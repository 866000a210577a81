// Command weed builds the SeaweedFS server the S3 tests run against, once
// per machine, and prints where it is. make unit runs it before the tests,
// so that the first build (minutes) is not counted against a test timeout.
package main

import (
	"context"
	"fmt"
	"os"

	"bazaar/catalog/internal/catalogtest"
)

func main() {
	bin, err := catalogtest.WeedBinary(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "weed:", err)
		os.Exit(1)
	}
	fmt.Println(bin)
}
