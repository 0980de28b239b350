package mask

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/schema"
	"github.com/restage/restage/internal/transform"
)

// Log attribute keys, constant across the code base.
const (
	KeyStep     = "step"
	KeyTable    = "table"
	KeyRows     = "rows"
	KeyDuration = "duration"
)

// Options tune a masking run.
type Options struct {
	Workers   int // concurrent connections; default 2
	BatchSize int // rows per range and transaction; default 10000
	Logger    *slog.Logger
	// ProgressEvery is the interval of progress log lines; 0 means 5s.
	ProgressEvery time.Duration
	// FinishTimeout bounds the cleanup that restores what Prepare changed
	// after a failure or cancellation; default 2 minutes.
	FinishTimeout time.Duration
	// KeepIndexes maintains indexes over masked columns row by row
	// instead of rebuilding them after masking (engines that can defer).
	KeepIndexes bool
	// Observer, when set, sees the original values of every row the
	// workers read, in the masking transaction itself: the verification
	// gate takes its baseline there instead of reading every masked table
	// a second time before masking.
	Observer Observer
}

// Observer sees every row masking reads, before it is masked.
type Observer interface {
	// Range starts one range of plan.Jobs[job]. m is the calling worker's
	// Masker; the RangeObserver is used by that one goroutine only.
	Range(job int, m *transform.Masker) RangeObserver
}

// RangeObserver sees the rows of one range.
type RangeObserver interface {
	// Row gets one row's TableJob.Read values followed by its Key values,
	// as read before masking. It must not retain row.
	Row(row []Value)
	// Done is called once the range is masked and committed; rows of a
	// range that failed are never Done (the run fails).
	Done()
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.FinishTimeout <= 0 {
		o.FinishTimeout = 2 * time.Minute
	}
}

// TableStats is the outcome for one table.
type TableStats struct {
	Table  string `json:"table"`
	Action string `json:"action"` // "mask" or "truncate"
	// Strategy is "rewrite" or "update" for a masked table, with the
	// planner's reason.
	Strategy    string        `json:"strategy,omitempty"`
	StrategyWhy string        `json:"strategy_reason,omitempty"`
	Columns     []string      `json:"columns,omitempty"`
	Rows        int64         `json:"rows"`
	Ranges      int           `json:"ranges,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
	RowsPerSec  float64       `json:"rows_per_sec,omitempty"`
}

// Report summarises a masking run.
type Report struct {
	Tables []TableStats `json:"tables"`
	// Firing lists user triggers that fired during masking because the
	// engine could not keep them quiet.
	Firing []string `json:"triggers_fired,omitempty"`
	// DeferredIndexes were dropped before masking and built again after.
	DeferredIndexes []string      `json:"deferred_indexes,omitempty"`
	Rows            int64         `json:"rows"`
	Duration        time.Duration `json:"duration_ns"`
}

type task struct {
	tp      *TablePlan
	r       Range
	idx     int
	rewrite bool // the whole table, written anew (TableRewriter)
}

type slot struct {
	w Worker
	m *transform.Masker
}

// Run executes the plan: Prepare, truncate, mask every range with a
// bounded pool of workers (one connection each), Finish. On failure or
// cancellation it still calls Finish (from a fresh context with its own
// timeout) so triggers are restored, and returns the first error.
func Run(ctx context.Context, eng Engine, plan *Plan, key transform.Key, opt Options) (rep *Report, err error) {
	opt.defaults()
	log := opt.Logger
	start := time.Now()
	rep = &Report{}

	var tables []*schema.Table
	for _, j := range plan.Jobs {
		tables = append(tables, j.Job.Table)
	}
	firing, err := eng.Prepare(ctx, tables)
	if err != nil {
		return rep, fmt.Errorf("prepare: %w", err)
	}
	rep.Firing = firing
	for _, f := range firing {
		log.Warn("trigger fires during masking (engine cannot disable it)", KeyTable, f)
	}
	if err := ChooseStrategies(ctx, eng, plan); err != nil {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opt.FinishTimeout)
		defer cancel()
		return rep, errors.Join(err, eng.Finish(fctx, nil))
	}
	for _, j := range plan.Jobs {
		log.Info("masking strategy", KeyStep, "mask", KeyTable, j.Job.Table.TableName.String(), "strategy", string(j.Strategy), "reason", j.StrategyWhy)
	}
	finished := false
	if d, ok := eng.(IndexDeferrer); ok && !opt.KeepIndexes {
		jobs := make([]*TableJob, len(plan.Jobs))
		for i, j := range plan.Jobs {
			jobs[i] = &j.Job
		}
		deferred, err := d.DeferIndexes(ctx, jobs)
		rep.DeferredIndexes = deferred
		if err != nil {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opt.FinishTimeout)
			defer cancel()
			return rep, errors.Join(fmt.Errorf("defer indexes: %w", err), eng.Finish(fctx, nil))
		}
	}
	defer func() {
		if finished {
			return
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opt.FinishTimeout)
		defer cancel()
		if ferr := eng.Finish(fctx, nil); ferr != nil {
			err = errors.Join(err, fmt.Errorf("restore after failure: %w", ferr))
		}
	}()

	if len(plan.Truncate) > 0 {
		t0 := time.Now()
		if err := eng.Truncate(ctx, plan.Truncate); err != nil {
			return rep, fmt.Errorf("truncate: %w", err)
		}
		for _, t := range plan.Truncate {
			rep.Tables = append(rep.Tables, TableStats{Table: t.TableName.String(), Action: "truncate", Duration: time.Since(t0)})
			log.Info("truncated", KeyStep, "mask", KeyTable, t.TableName.String())
		}
	}

	// Set both ways: a plan run again without an observer must not keep
	// the key values and duplicate rows the last observer asked for.
	for _, tp := range plan.Jobs {
		tp.Job.Observed = opt.Observer != nil
	}

	// Ranges for every job, computed up front so big tables can be spread
	// over all workers.
	var tasks []task
	stats := make([]TableStats, len(plan.Jobs))
	for i, tp := range plan.Jobs {
		if tp.Strategy == config.StrategyRewrite {
			stats[i] = TableStats{Table: tp.Job.Table.TableName.String(), Action: "mask", Columns: tp.Job.Write, Strategy: string(tp.Strategy), StrategyWhy: tp.StrategyWhy}
			tasks = append(tasks, task{tp: tp, idx: i, rewrite: true})
			continue
		}
		ranges, err := eng.Chunks(ctx, &tp.Job, opt.BatchSize)
		if err != nil {
			return rep, fmt.Errorf("split %s: %w", tp.Job.Table.TableName, err)
		}
		stats[i] = TableStats{Table: tp.Job.Table.TableName.String(), Action: "mask", Columns: tp.Job.Write, Ranges: len(ranges), Strategy: string(tp.Strategy), StrategyWhy: tp.StrategyWhy}
		for _, r := range ranges {
			tasks = append(tasks, task{tp: tp, r: r, idx: i})
		}
	}

	// One connection per worker, handed out through a channel.
	n := min(opt.Workers, max(len(tasks), 1))
	slots := make(chan slot, n)
	defer func() {
		close(slots)
		for s := range slots {
			s.w.Close()
		}
	}()
	for range n {
		w, err := eng.Worker(ctx)
		if err != nil {
			return rep, fmt.Errorf("open worker connection: %w", err)
		}
		slots <- slot{w: w, m: transform.NewMasker(key)}
	}

	var done atomic.Int64
	var mu sync.Mutex
	first := make([]time.Time, len(plan.Jobs))
	last := make([]time.Time, len(plan.Jobs))
	progressDone := make(chan struct{})
	go func() {
		tick := time.NewTicker(opt.ProgressEvery)
		defer tick.Stop()
		for {
			select {
			case <-progressDone:
				return
			case <-tick.C:
				log.Info("masking", KeyStep, "mask", KeyRows, done.Load(), KeyDuration, time.Since(start).Round(time.Millisecond).String())
			}
		}
	}()
	// Tables whose rows other tables' seeds identify go first: their
	// row-level redraws are recorded for the others (see redrawRegistry).
	var waves [2][]task
	for _, tk := range tasks {
		if tk.tp.Owner {
			waves[0] = append(waves[0], tk)
		} else {
			waves[1] = append(waves[1], tk)
		}
	}
	runWave := func(tasks []task) error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(n)
		for _, tk := range tasks {
			g.Go(func() error {
				if err := gctx.Err(); err != nil {
					return err
				}
				s := <-slots
				defer func() { slots <- s }()
				t0 := time.Now()
				var ros []RangeObserver
				rowFunc := func(m *transform.Masker) RowFunc {
					fn := tk.tp.RowFunc(m)
					if opt.Observer == nil {
						return fn
					}
					ro := opt.Observer.Range(tk.idx, m)
					ros = append(ros, ro)
					return func(in, out []Value) error {
						ro.Row(in)
						return fn(in, out)
					}
				}
				var rows int64
				var err error
				if tk.rewrite {
					tr, ok := s.w.(TableRewriter)
					if !ok {
						return fmt.Errorf("mask %s: the engine's worker can't rewrite tables", tk.tp.Job.Table.TableName)
					}
					// A rewrite is one task for the whole table: its rows
					// are masked by as many goroutines as there are
					// workers, each with its own Masker.
					fns := []RowFunc{rowFunc(s.m)}
					for len(fns) < opt.Workers {
						fns = append(fns, rowFunc(transform.NewMasker(key)))
					}
					// The whole table is one task: progress is counted
					// row by row instead of when the task ends.
					for i, fn := range fns {
						fns[i] = func(in, out []Value) error {
							done.Add(1)
							return fn(in, out)
						}
					}
					rows, err = tr.RewriteTable(gctx, &tk.tp.Job, fns)
				} else {
					rows, err = s.w.MaskRange(gctx, &tk.tp.Job, tk.r, rowFunc(s.m))
				}
				if err != nil {
					return fmt.Errorf("mask %s: %w", tk.tp.Job.Table.TableName, err)
				}
				for _, ro := range ros {
					ro.Done()
				}
				if !tk.rewrite {
					done.Add(rows)
				}
				mu.Lock()
				stats[tk.idx].Rows += rows
				if first[tk.idx].IsZero() || t0.Before(first[tk.idx]) {
					first[tk.idx] = t0
				}
				if now := time.Now(); now.After(last[tk.idx]) {
					last[tk.idx] = now
				}
				mu.Unlock()
				return nil
			})
		}
		return g.Wait()
	}
	for _, w := range waves {
		if err = runWave(w); err != nil {
			break
		}
	}
	close(progressDone)
	if err != nil {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("masking stopped: %w", context.Cause(ctx))
		}
		return rep, err
	}

	for i := range stats {
		if !first[i].IsZero() {
			stats[i].Duration = last[i].Sub(first[i])
		}
		if s := stats[i].Duration.Seconds(); s > 0 {
			stats[i].RowsPerSec = float64(stats[i].Rows) / s
		}
		rep.Rows += stats[i].Rows
		log.Info("masked", KeyStep, "mask", KeyTable, stats[i].Table, KeyRows, stats[i].Rows, KeyDuration, stats[i].Duration.Round(time.Millisecond).String())
	}
	sort.SliceStable(stats, func(i, j int) bool { return stats[i].Table < stats[j].Table })
	rep.Tables = append(rep.Tables, stats...)

	finished = true
	if err := eng.Finish(ctx, tables); err != nil {
		return rep, fmt.Errorf("finish (statistics, triggers): %w", err)
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// Observers combines observers: each sees every row (the verification
// gate's and the leak scan's baselines are both taken in the masking
// pass).
func Observers(obs ...Observer) Observer { return multiObserver(obs) }

type multiObserver []Observer

func (m multiObserver) Range(job int, ms *transform.Masker) RangeObserver {
	out := make(multiRange, len(m))
	for i, o := range m {
		out[i] = o.Range(job, ms)
	}
	return out
}

type multiRange []RangeObserver

func (m multiRange) Row(row []Value) {
	for _, r := range m {
		r.Row(row)
	}
}

func (m multiRange) Done() {
	for _, r := range m {
		r.Done()
	}
}
