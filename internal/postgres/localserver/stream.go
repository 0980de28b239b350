package localserver

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/mask"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// StreamRestore fills the new DB in one pass, masking rows on their way:
// the drift gate runs on the source first (nothing is created when it
// refuses), then, under one snapshot the source exports (REPEATABLE READ,
// READ ONLY: production's writes never wait for it), pg_dump's pre-data
// section (tables without indexes, constraints or triggers), the gates'
// baselines, every table COPYed out by parallel readers sharing the
// snapshot, masked rows transformed by the rules' plan on their way, the
// sequences' values, and last pg_dump's post-data section (indexes,
// constraints, triggers: built after the data, as a restore does).
func (p *pgServer) StreamRestore(ctx context.Context, runID string, m *refresh.Masking, restore local.RestoreFunc) (*refresh.DB, bool, error) {
	c, err := p.connectSource(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("restore: connect to source %s: %w", p.src.Target(), err)
	}
	reason, err := postgres.StreamUnsupported(ctx, c)
	pgClose(c)
	if err != nil {
		return nil, false, fmt.Errorf("restore: inspect source %s: %w", p.src.Target(), pgScrub(err))
	}
	if reason != "" {
		p.log.Info("plain copy, then masking in place", "step", "restore", "reason", reason)
		return nil, false, nil
	}
	src, err := postgres.Open(ctx, postgres.ReadOnlyDSN(p.cfg.SourceDSN))
	if err != nil {
		return nil, true, fmt.Errorf("restore: open source %s: %w", p.src.Target(), err)
	}
	defer src.Close()
	if err := m.Check(ctx, src); err != nil {
		return nil, true, err
	}
	db, err := restore(ctx, runID, func(ctx context.Context, name string) error {
		return p.streamCopy(ctx, name, m, src)
	})
	return db, true, err
}

func (p *pgServer) streamCopy(ctx context.Context, name string, m *refresh.Masking, src *postgres.Engine) error {
	workers := max(m.Workers, 1)
	if m.Workers <= 0 {
		workers = 2
	}
	snap, err := postgres.OpenSnapshot(ctx, p.srcConn, workers, src, p.src.Target(), pgConnect)
	if err != nil {
		return err
	}
	defer snap.Close()
	if err := snap.SameTables(ctx, m.Schema); err != nil {
		return err
	}
	if err := p.dumpRestore(ctx, name, "--snapshot="+snap.ID(), "--section=pre-data"); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	// The gates' baselines come from the rows the copy reads (one read of
	// the source); rules with links need the followed rows before masking,
	// so for them the baselines are read first, in the same snapshot.
	capt, err := m.CaptureStream()
	if err != nil {
		capt = nil
		if err := m.CaptureFrom(ctx, snap); err != nil {
			return err
		}
	}
	rep, err := p.copyRows(ctx, name, snap, m, workers, capt)
	if err != nil {
		return err
	}
	if err := p.copySequences(ctx, name, snap); err != nil {
		return err
	}
	if err := p.dumpRestore(ctx, name, "--snapshot="+snap.ID(), "--section=post-data"); err != nil {
		return fmt.Errorf("indexes, constraints and triggers: %w", err)
	}
	if capt != nil {
		return m.StreamedFrom(rep, capt)
	}
	m.Streamed(rep)
	return nil
}

// copyRows copies every table's rows from the snapshot into database
// name, workers tables at a time: tables of the plan's truncate set stay
// empty, tables the plan masks go through its row function, all others
// pass byte for byte. Each table's row count is checked on both ends.
// copyRows copies every table's rows under the snapshot, the masked ones
// through their row functions. With capt, the masked rows' originals are
// shown to its observer as they pass and every other table's row count
// is recorded; each table's count is also checked against a COUNT(*) in
// the same snapshot.
func (p *pgServer) copyRows(ctx context.Context, name string, snap *postgres.Snapshot, m *refresh.Masking, workers int, capt *refresh.StreamCapture) (*mask.Report, error) {
	start := time.Now()
	rels, err := snap.Rels(ctx, "r")
	if err != nil {
		return nil, err
	}
	jobs := map[schema.TableName]*mask.TablePlan{}
	jobIdx := map[schema.TableName]int{}
	for i, tp := range m.Plan.Jobs {
		jobs[tp.Job.Table.TableName] = tp
		jobIdx[tp.Job.Table.TableName] = i
	}
	var obs mask.Observer
	if capt != nil {
		obs = capt.Observer()
	}
	empty := map[schema.TableName]bool{}
	rep := &mask.Report{}
	for _, t := range m.Plan.Truncate {
		empty[t.TableName] = true
		rep.Tables = append(rep.Tables, mask.TableStats{Table: t.TableName.String(), Action: "truncate"})
		if capt != nil {
			// The copy does not read a truncated table: its count is
			// the snapshot's.
			n, err := snap.Count(ctx, t.TableName)
			if err != nil {
				return nil, err
			}
			capt.Count(t.TableName, n)
		}
	}
	stats := map[schema.TableName]*mask.TableStats{}
	for _, tp := range m.Plan.Jobs {
		stats[tp.Job.Table.TableName] = &mask.TableStats{Table: tp.Job.Table.TableName.String(), Action: "mask", Columns: tp.Job.Write}
	}

	// Each slot masks its table's rows on as many goroutines as there are
	// workers (one Masker each): a database whose rows sit in one big
	// table would otherwise mask on one core while the others wait.
	type slot struct {
		src, dst *pgx.Conn
		ms       []*transform.Masker
	}
	slots := make(chan slot, workers)
	var dsts []*pgx.Conn
	defer func() {
		for _, c := range dsts {
			pgClose(c)
		}
	}()
	cfg := p.stgConn.Copy()
	cfg.Database = name
	postgres.CopySessionParams(cfg)
	// A crash fails the run anyway: no need to wait for WAL flushes.
	cfg.RuntimeParams["synchronous_commit"] = "off"
	for range workers {
		d, err := pgConnect(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", name, err)
		}
		dsts = append(dsts, d)
		s, err := snap.Get(ctx)
		if err != nil {
			return nil, err
		}
		defer snap.Put(s)
		ms := make([]*transform.Masker, workers)
		for i := range ms {
			ms[i] = transform.NewMasker(m.Key)
		}
		slots <- slot{src: s, dst: d, ms: ms}
	}

	var mu sync.Mutex
	// Tables whose rows other tables' seeds identify are masked first:
	// their row-level redraws are recorded for the others (mask.TablePlan
	// Owner), as mask.Run does.
	for wave := 0; wave < 2; wave++ {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(workers)
		for _, rel := range rels {
			if empty[rel.Name] {
				continue
			}
			tp := jobs[rel.Name]
			if owner := tp != nil && tp.Owner; owner != (wave == 0) {
				continue
			}
			g.Go(func() error {
				sl := <-slots
				defer func() { slots <- sl }()
				t0 := time.Now()
				var o *postgres.CopyObserver
				if obs != nil && tp != nil {
					o = &postgres.CopyObserver{Obs: obs, Job: jobIdx[rel.Name]}
				}
				n, err := postgres.CopyTable(gctx, sl.src, sl.dst, rel, tp, sl.ms, o)
				if err != nil {
					return fmt.Errorf("copy %s: %w", rel.Name, err)
				}
				if capt != nil && tp == nil {
					capt.Count(rel.Name, n)
				}
				d := time.Since(t0)
				p.log.Debug("copied", "step", "restore", "table", rel.Name.String(), "rows", n, "masked", tp != nil, "duration", d.Round(time.Millisecond).String())
				if tp != nil {
					mu.Lock()
					st := stats[rel.Name]
					st.Rows, st.Duration, st.Ranges = n, d, 1
					if d > 0 {
						st.RowsPerSec = float64(n) / d.Seconds()
					}
					mu.Unlock()
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("copy stopped: %w", context.Cause(ctx))
			}
			return nil, err
		}
	}
	var masked []mask.TableStats
	for _, st := range stats {
		rep.Rows += st.Rows
		masked = append(masked, *st)
	}
	sort.Slice(masked, func(i, j int) bool { return masked[i].Table < masked[j].Table })
	rep.Tables = append(rep.Tables, masked...)
	rep.Duration = time.Since(start)
	return rep, nil
}

// copySequences sets every sequence of the new DB to its value in the
// snapshot (postgres.CopySequences).
func (p *pgServer) copySequences(ctx context.Context, name string, snap *postgres.Snapshot) error {
	seqs, err := snap.Rels(ctx, "S")
	if err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	d, err := p.connect(ctx, name)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", name, err)
	}
	defer pgClose(d)
	return postgres.CopySequences(ctx, snap, seqs, d)
}
