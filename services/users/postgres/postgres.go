// Package postgres stores users and refresh tokens in PostgreSQL.
package postgres

import (
	"context"
	"embed"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/platform/apperr"
	"bazaar/platform/ident"
	"bazaar/platform/pg"
	"bazaar/users"
)

// Migrations are the users schema's migrations, for pg.Open or pg.Migrate.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Store implements users.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ users.Store = (*Store)(nil)

// NewStore returns a Store using pool.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

const userColumns = `id::text, email, name, role, created_at`

// EmailRegistered implements users.Store. It compares lower(email), the
// expression of the unique index users_email_key, so the lookup uses that
// index and agrees with the constraint CreateUser runs into.
func (s *Store) EmailRegistered(ctx context.Context, email string) (bool, error) {
	var taken bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))`, email).Scan(&taken)
	if err != nil {
		return false, pg.Wrap("check email", err)
	}
	return taken, nil
}

// CreateUser implements users.Store.
func (s *Store) CreateUser(ctx context.Context, u users.User, passwordHash string) (users.User, error) {
	err := s.pool.QueryRow(ctx, `
		INSERT INTO users (id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, $5)
		RETURNING created_at`, u.ID, u.Email, u.Name, passwordHash, u.Role).Scan(&u.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "users_email_key" {
		return users.User{}, users.ErrEmailTaken
	}
	if err != nil {
		return users.User{}, pg.Wrap("create user", err)
	}
	return u, nil
}

// CreateAdmin implements users.Store. ON CONFLICT DO NOTHING lets replicas
// starting together create the account once without failing; the account
// that exists is then read by a second statement, whose snapshot sees a row
// another replica has just committed.
func (s *Store) CreateAdmin(ctx context.Context, u users.User, passwordHash string) (users.User, error) {
	created, err := scanUser(s.pool.QueryRow(ctx, `
		INSERT INTO users (id, email, name, password_hash, role) VALUES ($1, $2, $3, $4, 'admin')
		ON CONFLICT ((lower(email))) DO NOTHING
		RETURNING `+userColumns, u.ID, u.Email, u.Name, passwordHash))
	if err == nil {
		return created, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return users.User{}, pg.Wrap("create admin", err)
	}
	existing, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower($1)`, u.Email))
	if err != nil {
		return users.User{}, pg.Wrap("create admin: read the existing account", err)
	}
	return existing, nil
}

// SetAdminPassword implements users.Store. The account's family rows are
// locked by the revocation, so a rotation running at the same moment either
// finishes before it or finds its family revoked.
func (s *Store) SetAdminPassword(ctx context.Context, email, passwordHash string, now time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `
			UPDATE users SET password_hash = $2 WHERE lower(email) = lower($1) AND role = 'admin'
			RETURNING id::text`, email, passwordHash).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "No admin account has the email %s.", email)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE refresh_families SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, id, now)
		return err
	})
	if apperr.Code(err) == apperr.NotFound {
		return err
	}
	if err != nil {
		return pg.Wrap("set admin password", err)
	}
	return nil
}

func scanUser(row pgx.Row, extra ...any) (users.User, error) {
	var u users.User
	err := row.Scan(append([]any{&u.ID, &u.Email, &u.Name, &u.Role, &u.CreatedAt}, extra...)...)
	return u, err
}

var errNoUser = apperr.Errorf(apperr.NotFound, "No such user.")

// FindCredentials implements users.Store.
func (s *Store) FindCredentials(ctx context.Context, email string) (users.User, string, error) {
	var hash string
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE lower(email) = lower($1)`, email), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return users.User{}, "", errNoUser
	}
	if err != nil {
		return users.User{}, "", pg.Wrap("find credentials", err)
	}
	return u, hash, nil
}

// FindUser implements users.Store.
func (s *Store) FindUser(ctx context.Context, id string) (users.User, error) {
	if !ident.IsUUID(id) {
		return users.User{}, errNoUser
	}
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return users.User{}, errNoUser
	}
	if err != nil {
		return users.User{}, pg.Wrap("find user", err)
	}
	return u, nil
}

// FindUsers implements users.Store.
func (s *Store) FindUsers(ctx context.Context, f users.UserFilter) (users.UserPage, error) {
	args := pgx.NamedArgs{"limit": f.Limit + 1}
	where := "true"
	if f.After != "" {
		where = "id > @after"
		args["after"] = f.After
	}
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE `+where+` ORDER BY id LIMIT @limit`, args)
	if err != nil {
		return users.UserPage{}, pg.Wrap("find users", err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (users.User, error) { return scanUser(r) })
	if err != nil {
		return users.UserPage{}, pg.Wrap("find users", err)
	}
	page := users.UserPage{Items: items}
	if len(items) > f.Limit {
		page.Items = items[:f.Limit]
		page.Next = page.Items[f.Limit-1].ID
	}
	return page, nil
}

// CreateRefreshToken implements users.Store.
func (s *Store) CreateRefreshToken(ctx context.Context, t users.RefreshToken) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_families (id, user_id) VALUES ($1, $2)`, t.FamilyID, t.UserID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)`, t.Hash, t.FamilyID, t.ExpiresAt)
		return err
	})
	if err != nil {
		return pg.Wrap("create refresh token", err)
	}
	return nil
}

// RotateRefreshToken implements users.Store.
//
// The family row is locked first, so rotations and revocations of one
// family run one after another. The token is then marked used by a
// conditional UPDATE; a concurrent rotation of the same token that lost the
// race finds it used, which is reuse.
func (s *Store) RotateRefreshToken(ctx context.Context, presented []byte, next users.RefreshToken, now, loginsSince time.Time) (string, error) {
	var userID string
	var reused bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var familyID string
		var over bool // revoked, or past its login's absolute lifetime
		err := tx.QueryRow(ctx, `
			SELECT id::text, user_id::text, revoked_at IS NOT NULL OR created_at < $2 FROM refresh_families
			WHERE id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)
			FOR UPDATE`, presented, loginsSince).Scan(&familyID, &userID, &over)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && over {
			return users.ErrRefreshTokenInvalid
		}
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			UPDATE refresh_tokens SET used_at = $2
			WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`, presented, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var used bool
			if err := tx.QueryRow(ctx, `SELECT used_at IS NOT NULL FROM refresh_tokens WHERE token_hash = $1`, presented).Scan(&used); err != nil {
				return err
			}
			if !used {
				return users.ErrRefreshTokenInvalid // expired
			}
			// Commit the revocation, then report the reuse.
			reused = true
			_, err := tx.Exec(ctx, `UPDATE refresh_families SET revoked_at = $2 WHERE id = $1`, familyID, now)
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)`, next.Hash, familyID, next.ExpiresAt)
		return err
	})
	switch {
	case errors.Is(err, users.ErrRefreshTokenInvalid):
		return "", err
	case err != nil:
		return "", pg.Wrap("rotate refresh token", err)
	case reused:
		return userID, users.ErrRefreshTokenReused
	}
	return userID, nil
}

// RevokeRefreshFamily implements users.Store.
func (s *Store) RevokeRefreshFamily(ctx context.Context, presented []byte, now time.Time) error {
	_, err := s.pool.Exec(ctx, `
		UPDATE refresh_families SET revoked_at = $2
		WHERE id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL`, presented, now)
	if err != nil {
		return pg.Wrap("revoke refresh family", err)
	}
	return nil
}

// PurgeRefreshTokens implements users.Store. It deletes whole families
// once none of their tokens can be used any more, and within live families
// the used tokens past their expiry, which reuse detection no longer needs
// (an expired token is refused anyway). The family's current token is never
// touched while it is valid, so a concurrent rotation cannot lose it.
func (s *Store) PurgeRefreshTokens(ctx context.Context, now time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			DELETE FROM refresh_families f
			WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id AND t.expires_at > $1)`, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE expires_at <= $1 AND used_at IS NOT NULL`, now)
		return err
	})
	if err != nil {
		return pg.Wrap("purge refresh tokens", err)
	}
	return nil
}
