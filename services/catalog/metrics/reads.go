package metrics

import "github.com/prometheus/client_golang/prometheus"

// Reads counts the reads that may trail the primary (listings, search,
// categories) by the node that served them (postgres.Standby).
type Reads struct {
	reads *prometheus.CounterVec
}

// NewReads returns Reads registered on reg.
func NewReads(reg prometheus.Registerer) *Reads {
	m := &Reads{reads: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "catalog_db_reads_total",
		Help: "Reads that may trail (listings, search, categories) by the node that served them: standby, or primary with the reason it was not the standby.",
	}, []string{"node", "reason"})}
	m.reads.WithLabelValues("standby", "")
	reg.MustRegister(m.reads)
	return m
}

// CountRead counts one read served by node ("standby" or "primary"), and
// for the primary why it was not the standby.
func (m *Reads) CountRead(node, reason string) {
	m.reads.WithLabelValues(node, reason).Inc()
}
