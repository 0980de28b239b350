package mask

import (
	"strings"
	"testing"

	"github.com/restage/restage/internal/config"
	"github.com/restage/restage/internal/schema"
)

func TestChooseStrategy(t *testing.T) {
	big := RewriteFacts{Changed: 0.9, Rows: 1_000_000, ReferencingRows: 10}
	with := func(f func(*RewriteFacts)) RewriteFacts { x := big; f(&x); return x }
	tests := []struct {
		name      string
		requested config.Strategy
		engineCan bool
		facts     RewriteFacts
		want      config.Strategy
		why       string
	}{
		{"most rows change", config.StrategyAuto, true, big, config.StrategyRewrite, "about 90% of the rows"},
		{"few rows change", config.StrategyAuto, true, with(func(f *RewriteFacts) { f.Changed = 0.2 }), config.StrategyUpdate, "about 20% of the rows"},
		{"no statistics", config.StrategyAuto, true, with(func(f *RewriteFacts) { f.Changed = -1 }), config.StrategyUpdate, "no statistics"},
		{"small table", config.StrategyAuto, true, with(func(f *RewriteFacts) { f.Rows = 500 }), config.StrategyUpdate, "small table"},
		{"big referencing tables", config.StrategyAuto, true, with(func(f *RewriteFacts) { f.ReferencingRows = 5_000_000 }), config.StrategyUpdate, "validate the foreign keys"},
		{"forced rewrite of a small table", config.StrategyRewrite, true, with(func(f *RewriteFacts) { f.Rows, f.Changed = 3, 0.1 }), config.StrategyRewrite, "rules ask for strategy rewrite"},
		{"forced update", config.StrategyUpdate, true, big, config.StrategyUpdate, "rules ask for strategy update"},
		{"forced rewrite, blocked", config.StrategyRewrite, true, with(func(f *RewriteFacts) { f.Blocker = "a view depends on it" }), config.StrategyUpdate, "a view depends on it"},
		{"forced rewrite, other sessions", config.StrategyRewrite, true, with(func(f *RewriteFacts) { f.OtherSessions = 2 }), config.StrategyUpdate, "2 other session(s)"},
		{"engine can't", config.StrategyRewrite, false, big, config.StrategyUpdate, "masks in place only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := chooseStrategy(tt.requested, tt.engineCan, tt.facts)
			if got != tt.want || !strings.Contains(why, tt.why) {
				t.Errorf("got %q (%s), want %q (containing %q)", got, why, tt.want, tt.why)
			}
		})
	}
}

func TestDescribeSaysStrategy(t *testing.T) {
	p := &Plan{Jobs: []*TablePlan{{
		Job:      TableJob{Table: &schema.Table{TableName: schema.TableName{Schema: "public", Name: "customer"}}, Key: []string{"id"}},
		Strategy: config.StrategyUpdate, StrategyWhy: "small table (about 599 rows)",
	}}}
	if got := p.Describe(); !strings.Contains(got, "customer") || !strings.Contains(got, "[update: small table (about 599 rows)]") {
		t.Errorf("Describe() = %q, want the strategy and its reason", got)
	}
}
