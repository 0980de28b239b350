package local

import (
	"encoding/json"
	"fmt"

	"github.com/restage/restage/internal/refresh"
)

// The run history lives in its own control-DB table, one row per run with
// the record as JSON: the forecast reads whole records, never a column of
// one, and the record's shape can grow without a migration. Record keeps
// the newest refresh.HistoryKeep rows per target.

const HistoryTable = "restage_history"

// DecodeHistory decodes the recorded runs' JSON bodies.
func DecodeHistory(bodies []string) ([]refresh.RunRecord, error) {
	out := make([]refresh.RunRecord, 0, len(bodies))
	for _, b := range bodies {
		var r refresh.RunRecord
		if err := json.Unmarshal([]byte(b), &r); err != nil {
			// The record is restage's own JSON: no personal data to hide.
			return nil, fmt.Errorf("read history: decode a recorded run: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}
