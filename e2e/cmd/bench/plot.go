package main

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"bazaar/e2e/internal/load"
)

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
}

// plot writes the report's PNG plots into dir and returns their names.
func (r report) plot(dir string) ([]string, error) {
	plots := []struct {
		name string
		make func() (*plot.Plot, error)
	}{
		{"throughput.png", r.throughputPlot},
		{"latency-fixed-rate.png", func() (*plot.Plot, error) {
			return cdf(fmt.Sprintf("Latency at %.0f requests/s (half the cached product's saturation)", r.rate),
				[]string{"nginx static", "cached product"}, r.staticFixed, r.productFixed)
		}},
		{"cache-hit-miss.png", func() (*plot.Plot, error) {
			return cdf("Product read latency: Redis cache hit vs miss", []string{"hit", "miss"}, r.hits, r.misses)
		}},
		{"memory.png", r.memoryPlot},
	}
	var names []string
	for _, p := range plots {
		pl, err := p.make()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		if err := pl.Save(9*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, p.name)); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		names = append(names, filepath.Join(dir, p.name))
	}
	return names, nil
}

// cdf plots the share of requests answered within each latency, on a
// logarithmic time axis, one line per run.
func cdf(title string, names []string, runs ...load.Results) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "latency (ms, log scale)"
	p.Y.Label.Text = "requests answered within (%)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Min, p.Y.Max = 0, 100
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())
	for i, rs := range runs {
		l := millis(rs)
		if len(l) == 0 {
			continue
		}
		// At most about 2000 points: enough for a smooth line.
		stride := max(1, len(l)/2000)
		var xys plotter.XYs
		for j := 0; j < len(l); j += stride {
			xys = append(xys, plotter.XY{X: max(l[j], 0.01), Y: 100 * float64(j+1) / float64(len(l))})
		}
		xys = append(xys, plotter.XY{X: max(l[len(l)-1], 0.01), Y: 100})
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(names[i], line)
	}
	return p, nil
}

func (r report) throughputPlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Throughput on this machine (per second)"
	p.Y.Label.Text = "per second"
	names := []string{"nginx static file", "cached product GET", "orders placed", "pgbench -N TPS"}
	values := plotter.Values{r.staticSat.Throughput, r.productSat.Throughput, r.orders.Throughput, r.pgbenchTPS}
	bars, err := plotter.NewBarChart(values, vg.Points(40))
	if err != nil {
		return nil, err
	}
	bars.Color = palette[0]
	p.Add(plotter.NewGrid(), bars)
	p.NominalX(names...)
	return p, nil
}

func (r report) memoryPlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Container memory (MiB, docker stats)"
	p.Y.Label.Text = "MiB"
	services := r.sortedServices()
	readings := []struct {
		name string
		m    memory
	}{{"idle", r.idle}, {"loaded (peak)", r.loaded}, {"idle after load", r.after}}
	const width = 12
	p.Add(plotter.NewGrid())
	for i, reading := range readings {
		values := make(plotter.Values, len(services))
		for j, svc := range services {
			values[j] = reading.m.usage[svc] / mib
		}
		bars, err := plotter.NewBarChart(values, vg.Points(width))
		if err != nil {
			return nil, err
		}
		bars.Color = palette[i%len(palette)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Points(float64(i-1) * width)
		p.Add(bars)
		p.Legend.Add(reading.name, bars)
	}
	p.Legend.Top = true
	// Headroom above the tallest bar for the legend.
	var tallest float64
	for _, reading := range readings {
		for _, v := range reading.m.usage {
			tallest = max(tallest, v/mib)
		}
	}
	p.Y.Min, p.Y.Max = 0, 1.3*tallest
	p.NominalX(services...)
	return p, nil
}
