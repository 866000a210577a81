// Package swarm tests the stack on Docker Swarm (swarm/stack.yml, deployed
// by scripts/swarm-up.sh) through nginx only, as a user would: the shop
// suite of e2e/internal/shop (the one the root package runs on Compose),
// Alertmanager and the dashboards' data, scaling under load, rolling
// updates under load and the loss of a task under load. Its TestMain deploys one stack for all of its tests, on
// a single-node swarm that it initialises when the engine is in none, and
// leaves the engine's swarm state as it found it.
package swarm
