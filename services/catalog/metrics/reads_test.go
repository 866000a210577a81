package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"bazaar/catalog/metrics"
)

func TestReadsCountByNodeAndReason(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, nil)
	m.CountRead("standby", "")
	m.CountRead("standby", "")
	m.CountRead("primary", "behind the primary")
	want := `
# HELP catalog_db_reads_total Reads that may trail (listings, search, categories) by the node that served them: standby, or primary with the reason it was not the standby.
# TYPE catalog_db_reads_total counter
catalog_db_reads_total{node="primary",reason="behind the primary"} 1
catalog_db_reads_total{node="standby",reason=""} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "catalog_db_reads_total"); err != nil {
		t.Error(err)
	}
}
