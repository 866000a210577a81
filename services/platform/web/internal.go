package web

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"bazaar/platform/apperr"
)

// requireInternalToken lets through only requests that carry
// Config.InternalToken as a bearer token, and the probes, which reveal
// nothing.
func (s *Server) requireInternalToken(next echo.HandlerFunc) echo.HandlerFunc {
	want := []byte(s.cfg.InternalToken)
	return func(c echo.Context) error {
		if len(want) == 0 || c.Path() == "/healthz" || c.Path() == "/readyz" {
			return next(c)
		}
		scheme, token, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(token), want) != 1 {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="bazaar-internal"`)
			return apperr.Errorf(apperr.Unauthorized, "The internal API needs the services' internal token.")
		}
		return next(c)
	}
}

// localAddr resolves the host of addr (host:port) to the one address of
// this machine among those the name resolves to, waiting up to wait for
// the name to appear (a container's network alias is registered as it
// starts). A host that is a network (10.89.8.0/24) gives this machine's
// address in that network, for where a name is only registered once the
// service is healthy (Docker Swarm). Addresses without a host name are
// returned as they are.
func localAddr(addr string, wait time.Duration) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || net.ParseIP(host) != nil {
		return addr, nil
	}
	find := func(ctx context.Context) (string, error) { return ownAddr(ctx, host) }
	if _, network, err := net.ParseCIDR(host); err == nil {
		find = func(context.Context) (string, error) { return addrIn(network) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		ip, err := find(ctx)
		if err == nil {
			return net.JoinHostPort(ip, port), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("web: listen %s: %w", addr, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// addrIn returns the address of this machine's interface in network.
func addrIn(network *net.IPNet) (string, error) {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range ifaddrs {
		if n, ok := a.(*net.IPNet); ok && network.Contains(n.IP) {
			return n.IP.String(), nil
		}
	}
	return "", fmt.Errorf("no interface of this machine is in %s", network)
}

// ownAddr returns the address of one of this machine's interfaces that
// host resolves to.
func ownAddr(ctx context.Context, host string) (string, error) {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return "", err
	}
	for _, ip := range ips {
		for _, a := range ifaddrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return ip.String(), nil
			}
		}
	}
	return "", fmt.Errorf("%s resolves to %v, none of them this machine's", host, ips)
}
