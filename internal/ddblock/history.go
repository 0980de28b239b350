package ddblock

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/restage/restage/internal/refresh"
)

// The run history on AWS is one more item in the lock table, keyed
// "<target>#history", next to the target's lock item "<target>": the task
// role's dynamodb:LeadingKeys allows exactly these two keys. The lock
// writes its item with a conditional PutItem on its own key, so it can
// never replace the history; the history is written with UpdateItem, which
// touches only the attributes it sets. Targets are lower-case names
// without '#', so no target's lock key is another's history key.
//
// The runs are stored as one gzip-compressed JSON array (B): 30 runs of a
// database with hundreds of tables stay far below DynamoDB's 400 KB item
// limit. The run lock serializes the read-modify-write of Record.

// HistorySuffix turns a target into its history item's key.
const HistorySuffix = "#history"

// AttrRuns holds the compressed runs; AttrRunCount their number (for a
// human reading the table in the console).
const (
	AttrRuns     = "runs"
	AttrRunCount = "run_count"
)

// maxRunsBytes keeps the item under DynamoDB's 400 KB limit with room for
// the key and the count: older runs are dropped until the runs fit.
const maxRunsBytes = 350 << 10

// History is a refresh.History in the lock table.
type History struct {
	api    API
	table  string
	target string
}

var _ refresh.History = (*History)(nil)

// NewHistory returns the history of target in table.
func NewHistory(api API, table, target string) *History {
	return &History{api: api, table: table, target: target}
}

// Key is the history item's partition key.
func (h *History) Key() string { return h.target + HistorySuffix }

func (h *History) key() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrTarget: str(h.Key())}
}

// Recent returns up to n recorded runs, newest first; no item is no
// history.
func (h *History) Recent(ctx context.Context, n int) ([]refresh.RunRecord, error) {
	runs, err := h.read(ctx)
	if err != nil {
		return nil, err
	}
	return runs[:min(n, len(runs))], nil
}

func (h *History) read(ctx context.Context) ([]refresh.RunRecord, error) {
	out, err := h.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: &h.table, Key: h.key(), ConsistentRead: ptr(true),
		ProjectionExpression: ptr("#runs"), ExpressionAttributeNames: map[string]string{"#runs": AttrRuns}})
	if err != nil {
		return nil, fmt.Errorf("read run history of %s: %w", h.target, err)
	}
	b, ok := out.Item[AttrRuns].(*types.AttributeValueMemberB)
	if !ok {
		return nil, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b.Value))
	if err != nil {
		return nil, fmt.Errorf("read run history of %s: %w", h.target, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read run history of %s: %w", h.target, err)
	}
	var runs []refresh.RunRecord
	if err := json.Unmarshal(raw, &runs); err != nil {
		return nil, fmt.Errorf("read run history of %s: decode: %w", h.target, err)
	}
	return refresh.TrimHistory(runs), nil
}

// Record adds rec, keeps the newest refresh.HistoryKeep runs (fewer if
// they would not fit one item) and writes them with UpdateItem.
func (h *History) Record(ctx context.Context, rec refresh.RunRecord) error {
	runs, err := h.read(ctx)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	runs = refresh.TrimHistory(append(runs, rec))
	var blob []byte
	for len(runs) > 0 {
		if blob, err = compress(runs); err != nil {
			return fmt.Errorf("record run: %w", err)
		}
		if len(blob) <= maxRunsBytes {
			break
		}
		runs = runs[:len(runs)-1]
	}
	_, err = h.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &h.table,
		Key:                      h.key(),
		UpdateExpression:         ptr("SET #runs = :runs, #count = :count"),
		ExpressionAttributeNames: map[string]string{"#runs": AttrRuns, "#count": AttrRunCount},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":runs":  &types.AttributeValueMemberB{Value: blob},
			":count": &types.AttributeValueMemberN{Value: fmt.Sprint(len(runs))},
		},
	})
	if err != nil {
		return fmt.Errorf("record run of %s: %w", h.target, err)
	}
	return nil
}

func compress(runs []refresh.RunRecord) ([]byte, error) {
	raw, err := json.Marshal(runs)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
