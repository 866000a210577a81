package app

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Where a container's memory limit shows: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// limitMemory gives the Go runtime a soft memory limit of 90% of the
// container's, so that the collector works harder as the process nears the
// limit instead of the kernel killing it there. Go sets GOMAXPROCS from the
// container's CPU limit by itself, but knows nothing of its memory limit.
// GOMEMLIMIT, when set, wins; without a limit (outside a container, or
// none set) nothing changes.
func limitMemory(logger *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	for _, file := range cgroupMemoryFiles {
		if limit, ok := containerMemoryLimit(file); ok {
			soft := limit / 10 * 9
			debug.SetMemoryLimit(soft)
			logger.Info("memory limit from the container", "container_bytes", limit, "gomemlimit_bytes", soft)
			return
		}
	}
}

// noLimit is what cgroup v1 shows for "no limit" (about 2^63, rounded to a
// page); anything this large is no limit.
const noLimit = 1 << 62

// containerMemoryLimit reads a cgroup memory limit file: a number of bytes,
// or "max" (v2) or a huge number (v1) for none.
func containerMemoryLimit(file string) (int64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil && n > 0 && n < noLimit
}
