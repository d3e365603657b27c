package meta

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
)

func TestSettingsGetPut(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()

		_, err := q.GetSetting(ctx, "tls.ca")
		wantKind(t, err, errs.NotFound)

		// Binary values come back byte for byte.
		bin := []byte{0, 1, 2, 0xff, '\'', '?', 0}
		must(t, q.PutSetting(ctx, "bin", bin))
		diff(t, "binary value", bin, must1[[]byte](t)(q.GetSetting(ctx, "bin")))

		// PutSetting replaces.
		must(t, q.PutSetting(ctx, "bin", []byte("second")))
		diff(t, "replaced value", []byte("second"), must1[[]byte](t)(q.GetSetting(ctx, "bin")))

		// An empty value is a value; nil is stored as empty.
		must(t, q.PutSetting(ctx, "empty", nil))
		got, err := q.GetSetting(ctx, "empty")
		must(t, err)
		if got == nil || len(got) != 0 {
			t.Errorf("GetSetting(empty) = %#v, want a non-nil empty slice", got)
		}

		// Keys are distinct byte strings.
		must(t, q.PutSetting(ctx, "Bin", []byte("upper")))
		diff(t, "value of key bin", []byte("second"), must1[[]byte](t)(q.GetSetting(ctx, "bin")))
		diff(t, "value of key Bin", []byte("upper"), must1[[]byte](t)(q.GetSetting(ctx, "Bin")))

		wantKind(t, q.PutSetting(ctx, "", []byte("x")), errs.Invalid)
		_, err = q.PutSettingIfAbsent(ctx, "", []byte("x"))
		wantKind(t, err, errs.Invalid)
		diff(t, "rows", 3, count(t, db, `SELECT count(*) FROM settings`))
	})
}

func TestSettingsPutIfAbsent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()

		got := must1[[]byte](t)(q.PutSettingIfAbsent(ctx, "k", []byte("first")))
		diff(t, "first put", []byte("first"), got)
		got = must1[[]byte](t)(q.PutSettingIfAbsent(ctx, "k", []byte("second")))
		diff(t, "second put returns the stored value", []byte("first"), got)
		diff(t, "stored value", []byte("first"), must1[[]byte](t)(q.GetSetting(ctx, "k")))

		// Inside a transaction, and rolled back with it.
		err := db.Tx(ctx, func(q *Q) error {
			got, err := q.PutSettingIfAbsent(ctx, "tx", []byte("in tx"))
			if err != nil {
				return err
			}
			diff(t, "put in transaction", []byte("in tx"), got)
			return fmt.Errorf("roll back")
		})
		if err == nil {
			t.Fatal("Tx returned nil, want the function's error")
		}
		_, err = q.GetSetting(ctx, "tx")
		wantKind(t, err, errs.NotFound)
	})
}

// TestSettingsPutIfAbsentRace has many writers, each with its own value,
// race to set one key: every one must be told the same stored value.
func TestSettingsPutIfAbsentRace(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		const n = 16
		got := make([][]byte, n)
		errc := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got[i], errc[i] = db.Q().PutSettingIfAbsent(ctx, "race", []byte(fmt.Sprintf("node-%d", i)))
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			must(t, errc[i])
		}
		stored := must1[[]byte](t)(db.Q().GetSetting(ctx, "race"))
		for i := range n {
			diff(t, fmt.Sprintf("value returned to writer %d", i), stored, got[i])
		}
		diff(t, "rows", 1, count(t, db, `SELECT count(*) FROM settings`))
	})
}

func TestSettingsSwap(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		q := db.Q()

		_, err := q.SwapSetting(ctx, "missing", []byte("a"), []byte("b"))
		wantKind(t, err, errs.NotFound)
		_, err = q.GetSetting(ctx, "missing")
		wantKind(t, err, errs.NotFound)

		must(t, q.PutSetting(ctx, "k", []byte("v1")))
		got := must1[[]byte](t)(q.SwapSetting(ctx, "k", []byte("v1"), []byte("v2")))
		diff(t, "swap from the stored value", []byte("v2"), got)
		got = must1[[]byte](t)(q.SwapSetting(ctx, "k", []byte("v1"), []byte("v3")))
		diff(t, "swap from a stale value returns the stored one", []byte("v2"), got)
		diff(t, "stored value", []byte("v2"), must1[[]byte](t)(q.GetSetting(ctx, "k")))

		// Racing swaps from the same old value: exactly one wins and
		// every writer is told the winner's value.
		const n = 16
		results := make([][]byte, n)
		errc := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errc[i] = db.Q().SwapSetting(ctx, "k", []byte("v2"), []byte(fmt.Sprintf("w%d", i)))
			}()
		}
		close(start)
		wg.Wait()
		stored := must1[[]byte](t)(q.GetSetting(ctx, "k"))
		winners := 0
		for i := range n {
			must(t, errc[i])
			diff(t, fmt.Sprintf("value returned to swapper %d", i), stored, results[i])
			if string(stored) == fmt.Sprintf("w%d", i) {
				winners++
			}
		}
		diff(t, "winners", 1, winners)
	})
}
