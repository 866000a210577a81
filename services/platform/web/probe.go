package web

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// Probe is the container health check: images are FROM scratch, with no curl,
// so the service binary checks itself. It GETs /readyz on the local address
// addr (":8080" or "host:port") and returns the process exit code.
func Probe(addr string) int {
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "readyz:", resp.Status)
		return 1
	}
	return 0
}
