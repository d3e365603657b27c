package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/errs"
)

// Settings are named byte strings that every node must agree on, such as
// the generated TLS certificates. The store does not interpret them. The
// write methods are built so that nodes racing to set the same key all
// end up with the value that was stored first, never with one each.

// GetSetting returns the value stored under key, or a NotFound error.
func (q *Q) GetSetting(ctx context.Context, key string) ([]byte, error) {
	return q.getSetting(ctx, q.r, key)
}

// getSetting reads key through qr: the write side right after a write, so
// that on SQLite outside a transaction the read sees that write.
func (q *Q) getSetting(ctx context.Context, qr queryer, key string) ([]byte, error) {
	var v []byte
	err := qr.QueryRowContext(ctx, q.rebind(`SELECT value FROM settings WHERE key = ?`), key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("setting %s not found", key)
	}
	if err != nil {
		return nil, fmt.Errorf("get setting %s: %w", key, err)
	}
	if v == nil {
		v = []byte{} // an empty value is stored, not absent
	}
	return v, nil
}

// PutSettingIfAbsent stores val under key unless the key already has a
// value, and returns the value stored afterwards: val when this call
// stored it, otherwise the earlier value. Concurrent callers, on any
// node, all get the same answer.
func (q *Q) PutSettingIfAbsent(ctx context.Context, key string, val []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	val = nonNil(val)
	// DO NOTHING waits for a concurrent inserter of the same key to
	// finish, so the SELECT that follows (a new statement, hence a new
	// snapshot at READ COMMITTED) sees its row.
	if _, err := q.exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO NOTHING`, key, val, q.ts(now())); err != nil {
		return nil, fmt.Errorf("put setting %s: %w", key, err)
	}
	return q.getSetting(ctx, q.w, key)
}

// PutSetting stores val under key, replacing any value.
func (q *Q) PutSetting(ctx context.Context, key string, val []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		key, nonNil(val), q.ts(now())); err != nil {
		return fmt.Errorf("put setting %s: %w", key, err)
	}
	return nil
}

// SwapSetting replaces the value under key with val only if it is still
// old, and returns the value stored afterwards: val when the swap
// happened, otherwise whatever another writer stored first. It returns
// NotFound when the key has no value. Use it to change a shared value
// that several nodes may decide to change at the same time.
func (q *Q) SwapSetting(ctx context.Context, key string, old, val []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	// On PostgreSQL an UPDATE that waited for a concurrent writer
	// re-evaluates its WHERE clause against the row that writer left,
	// so of two racing swaps from the same old value only one matches.
	if _, err := q.exec(ctx, `UPDATE settings SET value = ?, updated_at = ? WHERE key = ? AND value = ?`,
		nonNil(val), q.ts(now()), key, nonNil(old)); err != nil {
		return nil, fmt.Errorf("swap setting %s: %w", key, err)
	}
	return q.getSetting(ctx, q.w, key)
}

func checkKey(key string) error {
	if key == "" {
		return errs.Invalidf("setting key is empty")
	}
	return nil
}

// nonNil makes a nil value the empty one: the column is NOT NULL, and a
// nil slice would be sent as NULL.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
