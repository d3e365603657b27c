package meta

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/errs"
)

// Concurrent GroupTx calls each commit their own writes or none of them:
// a failing call changes nothing and gets its own error, the others commit.
func TestGroupTx(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		const n = 24
		errsOut := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errsOut[i] = db.GroupTx(ctx, func(q *Q) error {
					if _, err := q.EnsureRepo(ctx, fmt.Sprintf("group/r%d", i)); err != nil {
						return err
					}
					if i%3 == 0 {
						return errs.Invalidf("call %d fails", i)
					}
					return nil
				})
			}()
		}
		wg.Wait()
		for i, err := range errsOut {
			if (i%3 == 0) != (err != nil) {
				t.Fatalf("call %d: err %v", i, err)
			}
			if i%3 == 0 && !errs.Is(err, errs.Invalid) {
				t.Fatalf("call %d: got %v, want its own error", i, err)
			}
			want := 1
			if i%3 == 0 {
				want = 0
			}
			if got := count(t, db, `SELECT count(*) FROM repositories WHERE name = ?`, fmt.Sprintf("group/r%d", i)); got != want {
				t.Fatalf("call %d: %d rows, want %d", i, got, want)
			}
		}
	})
}
