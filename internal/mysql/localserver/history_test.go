package localserver

import (
	"context"
	"testing"

	"github.com/restage/restage/internal/local/localtest"

	"github.com/restage/restage/internal/refresh"
)

func TestMyHistory(t *testing.T) {
	e := newMyEnv(t, false)
	localtest.HistoryContract(t, e.p, func() refresh.History { return e.provider() })
}

func TestMyRowEstimates(t *testing.T) {
	e := newMyEnv(t, false)
	e.exec("CREATE TABLE "+mysqlQuote(e.src)+".big (id int PRIMARY KEY)",
		"INSERT INTO "+mysqlQuote(e.src)+".big WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 300) SELECT n FROM s",
		"ANALYZE TABLE "+mysqlQuote(e.src)+".big")
	est, err := e.p.RowEstimates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// InnoDB's estimate is sampled: near, not exact.
	if v, ok := est["big"]; !ok || v < 150 || v > 600 {
		t.Errorf("estimates %v, want big near 300", est)
	}
}
