package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errs"
)

// The built-in scanner's vulnerability database. An import writes its
// records under a new generation in state 'loading' (in many small
// transactions, so the SQLite writer is never held for long), then
// CommitVulnGeneration makes it 'current' in one transaction. Readers
// always look up the current generation first, so they see the old
// database or the new one, never a mix. The generation replaced is kept
// (as 'retired') until the next import, so a scan that read the old id
// just before the swap still finds its rows.

// VulnGeneration is one imported vulnerability database.
type VulnGeneration struct {
	ID         int64
	State      string // "loading", "current" or "retired"
	Source     string
	Checksum   string
	Records    int64
	Ecosystems string // JSON object: ecosystem -> record count
	UpdatedAt  time.Time
	StartedAt  time.Time
	ImportedAt time.Time
}

// VulnRecord is one OSV advisory as stored: Data is the record's JSON,
// compressed by the caller.
type VulnRecord struct {
	ID       string
	Modified time.Time
	Data     []byte
}

// VulnAffected says that record RecordID names package Name in
// Ecosystem.
type VulnAffected struct {
	Ecosystem string
	Name      string
	RecordID  string
}

// VulnMatch is a record found for a package name.
type VulnMatch struct {
	Name string
	VulnRecord
}

// staleLoading is how old a 'loading' generation must be before an
// import treats it as abandoned (its importer died) and deletes it.
const staleLoading = 6 * time.Hour

// BeginVulnGeneration starts an import from source and returns its
// generation id. It first deletes generations abandoned mid-import.
func (q *Q) BeginVulnGeneration(ctx context.Context, source string) (int64, error) {
	t := now()
	rows, err := q.query(ctx, `SELECT id FROM vulndb_generations WHERE state = 'loading' AND started_at < ?`,
		q.ts(t.Add(-staleLoading)))
	if err != nil {
		return 0, fmt.Errorf("list abandoned vulnerability imports: %w", err)
	}
	var stale []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		stale = append(stale, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, id := range stale {
		if err := q.DeleteVulnGeneration(ctx, id); err != nil {
			return 0, err
		}
	}
	var id int64
	err = q.w.QueryRowContext(ctx, q.rebind(`INSERT INTO vulndb_generations (state, source, started_at)
		VALUES ('loading', ?, ?) RETURNING id`), source, q.ts(t)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("begin vulnerability import: %w", err)
	}
	return id, nil
}

// PutVulnRecords adds records and their package index to a loading
// generation. A record already there is replaced (the caller keeps the
// newest of duplicates); ids must be unique within one call.
func (q *Q) PutVulnRecords(ctx context.Context, gen int64, recs []VulnRecord, aff []VulnAffected) error {
	return q.atomic(ctx, func(q *Q) error {
		if err := chunks(recs, chunkSize/4, func(c []VulnRecord) error {
			args := make([]any, 0, 4*len(c))
			for _, r := range c {
				var mod any
				if !r.Modified.IsZero() {
					mod = q.ts(r.Modified)
				}
				args = append(args, gen, r.ID, mod, r.Data)
			}
			_, err := q.exec(ctx, `INSERT INTO vulndb_records (generation, id, modified, data) VALUES `+
				rowsOf(len(c), 4)+
				` ON CONFLICT (generation, id) DO UPDATE SET modified = excluded.modified, data = excluded.data`, args...)
			return err
		}); err != nil {
			return fmt.Errorf("store vulnerability records: %w", err)
		}
		if err := chunks(aff, chunkSize/4, func(c []VulnAffected) error {
			args := make([]any, 0, 4*len(c))
			for _, a := range c {
				args = append(args, gen, a.Ecosystem, a.Name, a.RecordID)
			}
			_, err := q.exec(ctx, `INSERT INTO vulndb_affected (generation, ecosystem, name, record_id) VALUES `+
				rowsOf(len(c), 4)+` ON CONFLICT DO NOTHING`, args...)
			return err
		}); err != nil {
			return fmt.Errorf("store vulnerability index: %w", err)
		}
		return nil
	})
}

// rowsOf returns "(?, ?), (?, ?)" for n rows of width columns.
func rowsOf(n, width int) string {
	row := "(" + placeholders(width) + ")"
	return strings.Repeat(row+", ", n-1) + row
}

// CommitVulnGeneration makes the loading generation gen current, with
// its summary, retires the one it replaces and deletes older retired
// ones. It fails with errs.Conflict when gen is no longer loading (an
// abandoned import that was cleaned up).
func (q *Q) CommitVulnGeneration(ctx context.Context, g VulnGeneration) error {
	var old []int64
	err := q.atomic(ctx, func(q *Q) error {
		var upd any
		if !g.UpdatedAt.IsZero() {
			upd = q.ts(g.UpdatedAt)
		}
		n, err := q.execN(ctx, `UPDATE vulndb_generations SET state = 'current', checksum = ?, records = ?,
			ecosystems = ?, updated_at = ?, imported_at = ? WHERE id = ? AND state = 'loading'`,
			g.Checksum, g.Records, g.Ecosystems, upd, q.ts(now()), g.ID)
		if err != nil {
			return err
		}
		if n == 0 {
			return errs.Conflictf("vulnerability import %d is no longer in progress", g.ID)
		}
		rows, err := q.query(ctx, `SELECT id FROM vulndb_generations WHERE state = 'retired'`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			old = append(old, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = q.exec(ctx, `UPDATE vulndb_generations SET state = 'retired' WHERE state = 'current' AND id <> ?`, g.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("commit vulnerability import %d: %w", g.ID, err)
	}
	for _, id := range old {
		if err := q.DeleteVulnGeneration(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// DeleteVulnGeneration deletes a generation and its rows. Deleting the
// current one is refused (errs.Conflict). The rows go in small
// transactions, so that a large database never holds SQLite's writer for
// long; the generation is retired first, so an import still writing it
// cannot make it current half-deleted.
func (q *Q) DeleteVulnGeneration(ctx context.Context, gen int64) error {
	var gone bool
	err := q.atomic(ctx, func(q *Q) error {
		var state string
		err := q.queryRow(ctx, `SELECT state FROM vulndb_generations WHERE id = ?`, gen).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		if state == "current" {
			return errs.Conflictf("vulnerability generation %d is in use", gen)
		}
		_, err = q.exec(ctx, `UPDATE vulndb_generations SET state = 'retired' WHERE id = ?`, gen)
		return err
	})
	if err != nil || gone {
		return wrapDelete(gen, err)
	}
	for {
		rows, err := q.query(ctx, `SELECT id FROM vulndb_records WHERE generation = ?`+limit(deleteBatch), gen)
		if err != nil {
			return wrapDelete(gen, err)
		}
		ids, err := scanStrings(rows)
		if err != nil {
			return wrapDelete(gen, err)
		}
		if len(ids) == 0 {
			break
		}
		err = q.atomic(ctx, func(q *Q) error {
			return chunks(ids, chunkSize, func(c []string) error {
				args := []any{gen}
				for _, id := range c {
					args = append(args, id)
				}
				in := placeholders(len(c))
				if _, err := q.exec(ctx, `DELETE FROM vulndb_affected WHERE generation = ? AND record_id IN (`+in+`)`, args...); err != nil {
					return err
				}
				_, err := q.exec(ctx, `DELETE FROM vulndb_records WHERE generation = ? AND id IN (`+in+`)`, args...)
				return err
			})
		})
		if err != nil {
			return wrapDelete(gen, err)
		}
	}
	return wrapDelete(gen, q.atomic(ctx, func(q *Q) error {
		if _, err := q.exec(ctx, `DELETE FROM vulndb_affected WHERE generation = ?`, gen); err != nil {
			return err
		}
		_, err := q.exec(ctx, `DELETE FROM vulndb_generations WHERE id = ?`, gen)
		return err
	}))
}

// deleteBatch is how many records one deleting transaction removes.
const deleteBatch = 2000

func wrapDelete(gen int64, err error) error {
	if err == nil || errs.Is(err, errs.Conflict) {
		return err
	}
	return fmt.Errorf("delete vulnerability generation %d: %w", gen, err)
}

const vulnGenCols = `id, state, source, checksum, records, ecosystems, updated_at, started_at, imported_at`

func scanVulnGeneration(row interface{ Scan(...any) error }) (VulnGeneration, error) {
	var g VulnGeneration
	err := row.Scan(&g.ID, &g.State, &g.Source, &g.Checksum, &g.Records, &g.Ecosystems,
		timeCol{&g.UpdatedAt}, timeCol{&g.StartedAt}, timeCol{&g.ImportedAt})
	return g, err
}

// CurrentVulnGeneration returns the database in use; errs.NotFound when
// none was imported yet.
func (q *Q) CurrentVulnGeneration(ctx context.Context) (VulnGeneration, error) {
	g, err := scanVulnGeneration(q.queryRow(ctx, `SELECT `+vulnGenCols+
		` FROM vulndb_generations WHERE state = 'current' ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return VulnGeneration{}, errs.NotFoundf("no vulnerability database has been imported")
	}
	if err != nil {
		return VulnGeneration{}, fmt.Errorf("read vulnerability database: %w", err)
	}
	return g, nil
}

// VulnGenerations lists every generation, newest first.
func (q *Q) VulnGenerations(ctx context.Context) ([]VulnGeneration, error) {
	rows, err := q.query(ctx, `SELECT `+vulnGenCols+` FROM vulndb_generations ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list vulnerability databases: %w", err)
	}
	defer rows.Close()
	out := []VulnGeneration{}
	for rows.Next() {
		g, err := scanVulnGeneration(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// VulnRecordsFor returns the records of generation gen that name any of
// names in ecosystem, with the name each was found under, ordered by
// name then record id. With anyRelease, ecosystem is a bare name
// ("Rocky Linux") and records of any of its releases ("Rocky Linux:9")
// match too.
func (q *Q) VulnRecordsFor(ctx context.Context, gen int64, ecosystem string, anyRelease bool, names []string) ([]VulnMatch, error) {
	out := []VulnMatch{}
	ecoCond, ecoArgs := `a.ecosystem = ?`, []any{ecosystem}
	if anyRelease {
		// The prefix is compared with substr rather than LIKE: SQLite's
		// LIKE ignores case and both treat '_' as a wildcard.
		ecoCond = `(a.ecosystem = ? OR substr(a.ecosystem, 1, ?) = ?)`
		ecoArgs = []any{ecosystem, len(ecosystem) + 1, ecosystem + ":"}
	}
	err := chunks(uniq(names), chunkSize, func(c []string) error {
		args := append([]any{gen}, ecoArgs...)
		for _, n := range c {
			args = append(args, n)
		}
		rows, err := q.query(ctx, `SELECT a.name, r.id, r.modified, r.data FROM vulndb_affected a
			JOIN vulndb_records r ON r.generation = a.generation AND r.id = a.record_id
			WHERE a.generation = ? AND `+ecoCond+` AND a.name IN (`+placeholders(len(c))+`)
			ORDER BY a.name, r.id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var last VulnMatch
		for rows.Next() {
			var m VulnMatch
			if err := rows.Scan(&m.Name, &m.ID, timeCol{&m.Modified}, &m.Data); err != nil {
				return err
			}
			if m.Name == last.Name && m.ID == last.ID {
				continue // one record naming the package in two releases
			}
			out = append(out, m)
			last = m
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("look up vulnerabilities in %s: %w", ecosystem, err)
	}
	return out, nil
}

// The refresh lease: one row naming the node that refreshes the
// database from its URL now, taken with a conditional UPDATE so that of
// nodes racing for it exactly one wins.

// AcquireVulnDBLease takes the lease for holder until expires if it is
// free or expired at now, and reports whether holder has it.
func (q *Q) AcquireVulnDBLease(ctx context.Context, holder string, now, expires time.Time) (bool, error) {
	if holder == "" {
		return false, errs.Invalidf("vulnerability database lease holder is empty")
	}
	n, err := q.execN(ctx, `UPDATE vulndb_lease SET holder = ?, expires_at = ?
		WHERE id = 1 AND (holder = '' OR holder = ? OR expires_at < ?)`, holder, q.ts(expires), holder, q.ts(now))
	if err != nil {
		return false, fmt.Errorf("acquire vulnerability database lease: %w", err)
	}
	return n > 0, nil
}

// ReleaseVulnDBLease gives the lease up if holder has it.
func (q *Q) ReleaseVulnDBLease(ctx context.Context, holder string) error {
	if _, err := q.exec(ctx, `UPDATE vulndb_lease SET holder = '', expires_at = ? WHERE id = 1 AND holder = ?`,
		q.ts(time.Unix(0, 0)), holder); err != nil {
		return fmt.Errorf("release vulnerability database lease: %w", err)
	}
	return nil
}
