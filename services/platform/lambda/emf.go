package lambda

import (
	"encoding/json"
	"strconv"
	"time"
)

// Namespace is the CloudWatch namespace of the shop's metrics; the alarms
// of deploy/aws/template.yaml read them there.
const Namespace = "Bazaar"

// emf is one invocation's metrics in CloudWatch's Embedded Metric Format:
// a JSON log line that CloudWatch Logs turns into metrics, with no agent
// and no API call (the Prometheus registry has no scraper on Lambda).
type emf struct {
	dimensions [][]string
	values     map[string]string // dimension values, beside Service
	metrics    []emfMetric
}

type emfMetric struct {
	name  string
	unit  string
	value float64
}

// requestMetrics counts an HTTP invocation by status class and times it.
func requestMetrics(status int, elapsed time.Duration) emf {
	class := strconv.Itoa(status/100) + "xx"
	return emf{
		dimensions: [][]string{{"Service"}, {"Service", "StatusClass"}},
		values:     map[string]string{"StatusClass": class},
		metrics: []emfMetric{
			{"Requests", "Count", 1},
			{"Latency", "Milliseconds", float64(elapsed.Microseconds()) / 1000},
		},
	}
}

// jobMetrics times a scheduled job and counts its failures, which the
// JobFailures alarm watches.
func jobMetrics(job string, elapsed time.Duration, err error) emf {
	failed := 0.0
	if err != nil {
		failed = 1
	}
	return emf{
		dimensions: [][]string{{"Service", "Job"}},
		values:     map[string]string{"Job": job},
		metrics: []emfMetric{
			{"JobDuration", "Milliseconds", float64(elapsed.Microseconds()) / 1000},
			{"JobFailures", "Count", failed},
		},
	}
}

// line renders the metrics as one log line, newline included.
func (m emf) line(service string, now time.Time) ([]byte, error) {
	type metricDef struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	type directive struct {
		Namespace  string      `json:"Namespace"`
		Dimensions [][]string  `json:"Dimensions"`
		Metrics    []metricDef `json:"Metrics"`
	}
	doc := map[string]any{"Service": service}
	d := directive{Namespace: Namespace, Dimensions: m.dimensions}
	for _, x := range m.metrics {
		d.Metrics = append(d.Metrics, metricDef{x.name, x.unit})
		doc[x.name] = x.value
	}
	for k, v := range m.values {
		doc[k] = v
	}
	doc["_aws"] = map[string]any{
		"Timestamp":         now.UnixMilli(),
		"CloudWatchMetrics": []directive{d},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
