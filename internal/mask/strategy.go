package mask

import (
	"context"
	"fmt"

	"github.com/restage/restage/internal/config"
)

// Rewriter is an optional Engine capability: mask a table by writing it
// anew (see TableRewriter) instead of updating its rows in place, which
// leaves a dead version of every changed row behind (the table and its
// indexes grow by about the share of rows masking changes).
type Rewriter interface {
	// RewriteFacts returns, for each job in order, what decides between a
	// rewrite and an update in place. It changes nothing.
	RewriteFacts(ctx context.Context, jobs []*TableJob) ([]RewriteFacts, error)
}

// TableRewriter is the Worker side of Rewriter. RewriteTable masks every
// row of job.Table in one transaction by writing the table anew: after
// it, the table holds the same rows an update in place would have left
// (same key → same values) and everything about the table (columns,
// indexes, constraints, foreign keys in both directions, triggers,
// grants, comments, sequences, policies) is as before. Each row goes
// through one of fns (at least one; the engine may call them from as
// many goroutines, each function from one goroutine only), with the key
// values appended when job.Observed. It returns the number of rows.
// Errors never contain row values.
type TableRewriter interface {
	RewriteTable(ctx context.Context, job *TableJob, fns []RowFunc) (rows int64, err error)
}

// RewriteFacts are what the planner weighs for one table.
type RewriteFacts struct {
	// Blocker says why the engine can't rewrite this table keeping
	// everything about it identical; "" when it can.
	Blocker string
	// Changed is the estimated share of rows masking changes (rows with a
	// non-NULL value in a masked column), from the server's statistics;
	// negative when unknown.
	Changed float64
	// Rows is the table's estimated row count.
	Rows int64
	// ReferencingRows is the estimated number of rows in other tables
	// whose foreign keys reference this one: a rewrite validates those
	// keys again.
	ReferencingRows int64
	// OtherSessions counts the sessions connected to the database other
	// than restage's own.
	OtherSessions int
}

// Strategy thresholds of the automatic choice.
const (
	// rewriteMinChanged: below this share of changed rows an update in
	// place writes less than a rewrite of every row.
	rewriteMinChanged = 0.5
	// rewriteMinRows: on a small table the fixed cost of a rewrite
	// (catalog work, index builds, foreign-key validation) outweighs the
	// few dead rows an update leaves.
	rewriteMinRows = 10000
)

// chooseStrategy decides how one table is masked and says why (names and
// numbers only, never a value).
func chooseStrategy(requested config.Strategy, engineCan bool, f RewriteFacts) (config.Strategy, string) {
	switch {
	case requested == config.StrategyUpdate:
		return config.StrategyUpdate, "the rules ask for strategy update"
	case !engineCan:
		return config.StrategyUpdate, "this engine masks in place only"
	case f.Blocker != "":
		return config.StrategyUpdate, "can't rewrite keeping the table identical: " + f.Blocker
	case f.OtherSessions > 0:
		return config.StrategyUpdate, fmt.Sprintf("%d other session(s) connected to the database: a rewrite needs it to itself", f.OtherSessions)
	case requested == config.StrategyRewrite:
		return config.StrategyRewrite, "the rules ask for strategy rewrite"
	case f.Changed < 0:
		return config.StrategyUpdate, "no statistics to estimate how many rows masking changes"
	case f.Changed < rewriteMinChanged:
		return config.StrategyUpdate, fmt.Sprintf("masking changes about %.0f%% of the rows", f.Changed*100)
	case f.Rows < rewriteMinRows:
		return config.StrategyUpdate, fmt.Sprintf("small table (about %d rows)", f.Rows)
	case f.ReferencingRows > f.Rows:
		return config.StrategyUpdate, fmt.Sprintf("a rewrite would validate the foreign keys of about %d referencing rows, more than the table's own", f.ReferencingRows)
	}
	return config.StrategyRewrite, fmt.Sprintf("masking changes about %.0f%% of the rows", f.Changed*100)
}

// ChooseStrategies sets every job's Strategy and StrategyWhy from the
// engine's facts now; it changes nothing in the database. Run calls it
// again before masking (sessions may have come or gone); calling it
// earlier lets a printed plan say how each table will be masked.
func ChooseStrategies(ctx context.Context, eng Engine, p *Plan) error {
	rw, ok := eng.(Rewriter)
	facts := make([]RewriteFacts, len(p.Jobs))
	if ok && len(p.Jobs) > 0 {
		jobs := make([]*TableJob, len(p.Jobs))
		for i, j := range p.Jobs {
			jobs[i] = &j.Job
		}
		f, err := rw.RewriteFacts(ctx, jobs)
		if err != nil {
			return fmt.Errorf("choose masking strategies: %w", err)
		}
		if len(f) != len(jobs) {
			return fmt.Errorf("choose masking strategies: the engine described %d tables, want %d", len(f), len(jobs))
		}
		facts = f
	}
	for i, j := range p.Jobs {
		j.Strategy, j.StrategyWhy = chooseStrategy(j.Requested, ok, facts[i])
	}
	return nil
}
