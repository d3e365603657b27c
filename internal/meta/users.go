package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/berth-registry/berth/internal/errs"
)

const userCols = `id, username, email, realname, comment, password_hash, sysadmin, disabled, created_at, updated_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.Email, &u.Realname, &u.Comment, &u.PasswordHash,
		&u.SysAdmin, &u.Disabled, timeCol{&u.CreatedAt}, timeCol{&u.UpdatedAt})
	return u, err
}

var usersListing = &listing{
	what: "users",
	fields: map[string]field{
		"username": {col: "username", folded: "username_key"},
		"email":    {col: "email", folded: "email_key"},
		"realname": {col: "realname"},
	},
	sorts: map[string]string{
		"username":      "username_key",
		"email":         "email",
		"creation_time": "created_at",
		"update_time":   "updated_at",
	},
	order: []SortKey{{Key: "username"}},
	id:    "id",
}

// usernameKey is the unique, case-folded form of a username.
func usernameKey(name string) string { return strings.ToLower(name) }

// emailKey is the unique, case-folded form of an email address, NULL when
// there is none so that any number of users may have none.
func emailKey(email string) any {
	if email == "" {
		return nil
	}
	return strings.ToLower(email)
}

// CreateUser stores a new user and returns it with its ID and times.
// Conflict if the username, in any letter case, or the email address is
// taken. The insert does not abort a surrounding PostgreSQL transaction
// when it conflicts.
func (q *Q) CreateUser(ctx context.Context, u User) (User, error) {
	if u.Username == "" {
		return User{}, errs.New(errs.Invalid, "", "username is empty")
	}
	t := now()
	u.CreatedAt, u.UpdatedAt = t, t
	id, ok, err := q.insertID(ctx, `INSERT INTO users (username, username_key, email, email_key, realname,
		comment, password_hash, sysadmin, disabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		u.Username, usernameKey(u.Username), u.Email, emailKey(u.Email), u.Realname,
		u.Comment, u.PasswordHash, u.SysAdmin, u.Disabled, q.ts(t), q.ts(t))
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", u.Username, err)
	}
	if !ok {
		return User{}, q.userConflict(ctx, u)
	}
	u.ID = id
	return u, nil
}

// userConflict says which unique column of u is taken.
func (q *Q) userConflict(ctx context.Context, u User) error {
	var n int
	err := q.queryRow(ctx, `SELECT count(*) FROM users WHERE username_key = ?`, usernameKey(u.Username)).Scan(&n)
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Username, err)
	}
	if n > 0 {
		return errs.New(errs.Conflict, "", "user %s already exists", u.Username)
	}
	return errs.New(errs.Conflict, "", "email %s is already used by another user", u.Email)
}

// GetUser returns the user with id.
func (q *Q) GetUser(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, errs.New(errs.NotFound, "", "user %d not found", id)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// GetUserByName returns the user called username, in any letter case.
func (q *Q) GetUserByName(ctx context.Context, username string) (User, error) {
	u, err := scanUser(q.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE username_key = ?`,
		usernameKey(username)))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, errs.New(errs.NotFound, "", "user %s not found", username)
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %s: %w", username, err)
	}
	return u, nil
}

// UpdateUser stores u's email, real name, comment, password hash and
// sysadmin and disabled flags, and sets its update time; the username
// never changes. Conflict if the email belongs to another user (on
// PostgreSQL that also aborts a surrounding transaction).
func (q *Q) UpdateUser(ctx context.Context, u User) error {
	defer q.identityChanged() // generations.go
	n, err := q.execN(ctx, `UPDATE users SET email = ?, email_key = ?, realname = ?, comment = ?,
		password_hash = ?, sysadmin = ?, disabled = ?, updated_at = ? WHERE id = ?`,
		u.Email, emailKey(u.Email), u.Realname, u.Comment, u.PasswordHash, u.SysAdmin, u.Disabled,
		q.ts(now()), u.ID)
	if isUniqueViolation(err) {
		return errs.Wrap(errs.Conflict, err, "email %s is already used by another user", u.Email)
	}
	if err != nil {
		return fmt.Errorf("update user %d: %w", u.ID, err)
	}
	if n == 0 {
		return errs.New(errs.NotFound, "", "user %d not found", u.ID)
	}
	return nil
}

// DeleteUser deletes the user, its project memberships and its sessions.
// Projects it owns keep their OwnerID, and audit records keep its name.
func (q *Q) DeleteUser(ctx context.Context, id int64) error {
	defer q.identityChanged() // generations.go
	return q.atomic(ctx, func(q *Q) error {
		if _, err := q.exec(ctx, `DELETE FROM project_members WHERE entity_type = 'u' AND entity_id = ?`, id); err != nil {
			return fmt.Errorf("delete memberships of user %d: %w", id, err)
		}
		// Sessions go by cascade.
		n, err := q.execN(ctx, `DELETE FROM users WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete user %d: %w", id, err)
		}
		if n == 0 {
			return errs.New(errs.NotFound, "", "user %d not found", id)
		}
		return nil
	})
}

// ListUsers returns a page of users and the number of users matching o.
// q keys: username, email (both case-insensitive), realname. Sort fields:
// username (case-insensitive), email, creation_time, update_time; the
// default is username.
func (q *Q) ListUsers(ctx context.Context, o ListOptions) ([]User, int, error) {
	out := []User{}
	total, err := q.list(ctx, usersListing, o, userCols, "users", &where{}, func(rows *sql.Rows) error {
		u, err := scanUser(rows)
		out = append(out, u)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// CountUsers returns the number of users other than excludeID (0 to count
// them all).
func (q *Q) CountUsers(ctx context.Context, excludeID int64) (int, error) {
	var n int
	if err := q.queryRow(ctx, `SELECT count(*) FROM users WHERE id <> ?`, excludeID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// The helpers below serve every identity table.

// insertID runs an INSERT … ON CONFLICT DO NOTHING RETURNING id and
// reports the new id, or ok=false when a unique constraint kept the row
// out. Unlike a failed insert, that does not abort a surrounding
// PostgreSQL transaction.
func (q *Q) insertID(ctx context.Context, query string, args ...any) (id int64, ok bool, err error) {
	err = q.w.QueryRowContext(ctx, q.rebind(query), args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return id, true, nil
}

// isUniqueViolation reports whether err is a unique or primary key
// violation, which the store turns into Conflict.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
