package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"bazaar/platform/config"
	"bazaar/platform/log"
	"bazaar/platform/pg"
	"bazaar/users"
	"bazaar/users/postgres"
)

// adminPasswordCommand runs "<binary> admin-password": it gives the
// ADMIN_EMAIL account the password read from the first line of standard
// input and signs it out of every login. It runs beside the service, in its
// container and with its environment (`docker compose exec -T users /service
// admin-password`), so it needs no tool the image lacks; the password never
// appears in a command line, the environment or the output.
func adminPasswordCommand(args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(os.Stderr, "usage: admin-password < file-holding-the-new-password")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logger := log.New(os.Stderr, "users", slog.LevelWarn)
	email, err := setAdminPassword(ctx, &config.Env{}, os.Stdin, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "admin-password:", err)
		return 1
	}
	fmt.Printf("The password of %s is changed; every login of the account is signed out.\n", email)
	return 0
}

// setAdminPassword sets the password of the configured admin account to the
// first line of in and returns the account's email.
func setAdminPassword(ctx context.Context, e *config.Env, in io.Reader, logger *slog.Logger) (string, error) {
	cfg, err := LoadConfig(e)
	if err != nil {
		return "", err
	}
	if cfg.AdminEmail == "" {
		return "", errors.New("ADMIN_EMAIL is not set, so there is no admin account")
	}
	password, err := readPassword(in)
	if err != nil {
		return "", err
	}
	if msg := adminPasswordProblem(password, cfg.Production()); msg != "" {
		return "", fmt.Errorf("the new password %s", msg)
	}
	cfg.DB.MaxConns, cfg.DB.MinConns = 1, 1
	pool, err := pg.Connect(ctx, cfg.DB, logger)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	svc, err := users.NewService(users.ServiceConfig{Store: postgres.NewStore(pool), Hasher: users.NewPasswordHasher(1), Logger: logger})
	if err != nil {
		return "", err
	}
	return cfg.AdminEmail, svc.SetAdminPassword(ctx, cfg.AdminEmail, password)
}

// readPassword returns the first line of in without its line ending; the
// password is otherwise taken as typed.
func readPassword(in io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	password := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if password == "" {
		return "", errors.New("no password on standard input")
	}
	return password, nil
}
