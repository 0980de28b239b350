package localserver

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/mask"
	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/refresh"
)

// StreamRestore fills the new DB in one pass, masking rows on their way:
// the drift gate runs on the source first (nothing is created when it
// refuses), then the same dump as Restore's (mariadb-dump
// --single-transaction: one consistent snapshot, no lock that blocks
// production's writes), with --complete-insert so every data statement
// names its columns, goes through mysql.TransformDump into the new database:
// the rows of masked tables are masked by the rules' plan, the rows of
// truncated tables are dropped, everything else passes byte for byte.
// The dump's snapshot is its own, so the gates' baselines are taken from
// the stream itself (refresh.StreamCapture): the masked rows' originals
// as they pass, every other table's row count as the dump printed it.
func (p *mysqlServer) StreamRestore(ctx context.Context, runID string, m *refresh.Masking, restore local.RestoreFunc) (*refresh.DB, bool, error) {
	src, err := mysqlengine.Open(ctx, p.src.FormatDSN())
	if err != nil {
		return nil, false, fmt.Errorf("restore: open source %s: %w", p.sourceName, err)
	}
	defer src.Close()
	if err := m.Check(ctx, src); err != nil {
		return nil, true, err
	}
	order, err := p.dumpOrder(ctx)
	if err != nil {
		return nil, true, fmt.Errorf("restore: read source %s: %w", p.sourceName, err)
	}
	if reason := mysqlengine.StreamUnsupported(m.Plan, order); reason != "" {
		p.log.Info("plain copy, then masking in place", "step", "restore", "reason", reason)
		return nil, false, nil
	}
	db, err := restore(ctx, runID, func(ctx context.Context, name string) error {
		return p.streamCopy(ctx, name, m)
	})
	return db, true, err
}

// dumpOrder lists the source's tables as mariadb-dump prints them.
func (p *mysqlServer) dumpOrder(ctx context.Context) ([]string, error) {
	db, err := mysqlOpen(p.src)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out, err := mysqlengine.DumpOrder(ctx, db)
	if err != nil {
		return nil, mysqlRedact(mysqlScrub(err), p.src.Passwd)
	}
	return out, nil
}

func (p *mysqlServer) streamCopy(ctx context.Context, name string, m *refresh.Masking) error {
	capt, err := m.CaptureStream()
	if err != nil {
		return err
	}
	sp := mysqlengine.NewStreamPlan(m.Plan, m.Schema, m.Key, capt.Observer())
	workers := m.Workers
	if workers <= 0 {
		workers = 2
	}
	var res *mysqlengine.StreamResult
	start := time.Now()
	err = p.copyDump(ctx, name, []string{"--complete-insert"}, func(dst io.Writer, src io.Reader) error {
		var err error
		res, err = mysqlengine.TransformDump(ctx, dst, src, mysqlengine.SchemaRewriter(p.sourceName, name), sp, workers)
		return err
	})
	if err != nil {
		return err
	}
	if err := mysqlengine.SameTables(ctx, p.admin, name, m.Schema); err != nil {
		return err
	}
	rep := &mask.Report{Duration: time.Since(start), DeferredIndexes: res.Deferred}
	for _, t := range m.Plan.Truncate {
		rep.Tables = append(rep.Tables, mask.TableStats{Table: t.TableName.String(), Action: "truncate"})
	}
	masked := map[string]bool{}
	for _, tp := range m.Plan.Jobs {
		n := tp.Job.Table.TableName.Name
		masked[n] = true
		st := res.Masked[n]
		st.Table, st.Action, st.Columns, st.Ranges = tp.Job.Table.TableName.String(), "mask", tp.Job.Write, 1
		if d := st.Duration.Seconds(); d > 0 {
			st.RowsPerSec = float64(st.Rows) / d
		}
		rep.Rows += st.Rows
		rep.Tables = append(rep.Tables, st)
		p.log.Debug("copied with masking", "step", "restore", "table", n, "rows", st.Rows)
	}
	for _, t := range m.Schema.Tables {
		if !masked[t.TableName.Name] {
			capt.Count(t.TableName, res.Counts[t.TableName.Name])
		}
	}
	sort.SliceStable(rep.Tables, func(i, j int) bool { return rep.Tables[i].Table < rep.Tables[j].Table })
	return m.StreamedFrom(rep, capt)
}
