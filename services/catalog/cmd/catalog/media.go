package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"bazaar/catalog/media"
	"bazaar/platform/config"
	"bazaar/platform/log"
)

// mediaArchive runs "catalog media-export", which writes the product images
// of the configured store (MEDIA_STORE: the folder or the bucket) to stdout
// as a tar stream, or "catalog media-import", which stores one read from
// stdin: the backup and restore of the images (scripts/backup.sh). It reads
// the store from the environment as the service does, and returns the
// process's exit code.
func mediaArchive(command string, stdin io.Reader, stdout, stderr io.Writer) int {
	logger := log.New(stderr, "catalog", slog.LevelWarn)
	cfg, err := LoadConfig(&config.Env{})
	if err != nil {
		fmt.Fprintln(stderr, command+":", err)
		return 2
	}
	ctx := context.Background()
	store, err := (&Main{Config: cfg, Logger: logger}).mediaStore(ctx)
	if err != nil {
		fmt.Fprintln(stderr, command+":", err)
		return 2
	}
	var n int
	if command == "media-export" {
		n, err = media.Export(ctx, store, stdout)
	} else {
		n, err = media.Import(ctx, store, stdin)
	}
	fmt.Fprintf(stderr, "%s: %d files\n", command, n)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
