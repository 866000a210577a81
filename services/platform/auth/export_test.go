package auth

// SetJWKSWaitHook makes c call f whenever a lookup is about to wait for a
// fetch, so that tests can tell when concurrent lookups have all joined it.
func SetJWKSWaitHook(c *JWKSClient, f func()) { c.onWait = f }
