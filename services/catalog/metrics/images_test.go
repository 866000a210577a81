package metrics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"bazaar/catalog/metrics"
	"bazaar/platform/apperr"
)

func TestImagesCountOutcomes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, nil)
	m.ImageStored(1000, 300*time.Millisecond)
	m.ImageStored(500, 100*time.Millisecond)
	m.ImageRefused(apperr.Errorf(apperr.Unsupported, "gif"))
	m.ImageRefused(apperr.Errorf(apperr.Unprocessable, "bomb"))
	m.ImageRefused(apperr.Errorf(apperr.Unprocessable, "bomb"))
	m.ImageRefused(errors.New("disk full"))

	for name, want := range map[string]float64{
		"catalog_image_uploads_total":      2,
		"catalog_image_upload_bytes_total": 1500,
	} {
		if got := counterValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for reason, want := range map[string]float64{"unsupported_type": 1, "too_many_pixels": 2, "error": 1, "too_large": 0} {
		got, err := testutil.GatherAndCount(reg, "catalog_image_refusals_total")
		if err != nil || got != len(metrics.RefusalReasons) {
			t.Fatalf("%d refusal series (%v), want one per reason", got, err)
		}
		if v := refusals(t, reg, reason); v != want {
			t.Errorf("refusals{reason=%q} = %v, want %v", reason, v, want)
		}
	}
	if n := histogramCount(t, reg, "catalog_image_processing_seconds"); n != 2 {
		t.Errorf("processing observations = %d, want 2", n)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

func refusals(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "catalog_image_refusals_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no refusals{reason=%q}", reason)
	return 0
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	families, _ := reg.Gather()
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}
