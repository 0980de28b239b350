// Package ddbfake is an in-memory DynamoDB table that satisfies
// ddblock.API for tests. Every call is atomic under one mutex and
// evaluates its ConditionExpression for real — the subset the lock uses:
// attribute_exists / attribute_not_exists, comparisons (=, <>, <, <=, >,
// >=) of attributes and values, AND/OR — and applies SET update
// expressions. Like DynamoDB it rejects unknown or unused expression
// names and values. Errors can be injected per operation; every call is
// logged.
package ddbfake

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/restage/restage/internal/ddblock"
)

// Operation names, as used in Inject and in the call log.
const (
	OpPut    = "PutItem"
	OpUpdate = "UpdateItem"
	OpDelete = "DeleteItem"
	OpGet    = "GetItem"
)

// Item is one stored item.
type Item = map[string]types.AttributeValue

// Throttling is DynamoDB's error for a table over its throughput.
func Throttling() error {
	msg := "The level of configured provisioned throughput for the table was exceeded."
	return &types.ProvisionedThroughputExceededException{Message: &msg}
}

// AccessDenied is the error a role without the action gets.
func AccessDenied(op string) error {
	return &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: dynamodb:" + op, Fault: smithy.FaultClient}
}

// Table is one table whose partition key is a string attribute.
type Table struct {
	// OmitOldItem makes failed conditional writes ignore
	// ReturnValuesOnConditionCheckFailure (as a client that did not ask
	// for it would see), so callers must read the item themselves.
	OmitOldItem bool

	mu      sync.Mutex
	name    string
	key     string
	items   map[string]Item
	inject  map[string][]error
	forever map[string]error
	calls   []string
}

var _ ddblock.API = (*Table)(nil)

// New returns an empty table name with the partition key key (S).
func New(name, key string) *Table {
	return &Table{name: name, key: key, items: map[string]Item{}, inject: map[string][]error{}, forever: map[string]error{}}
}

// Get returns a copy of the item with key value k.
func (t *Table) Get(k string) (Item, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	it, ok := t.items[k]
	return maps.Clone(it), ok
}

// Put stores item as is (it must carry the key), bypassing conditions.
func (t *Table) Put(item Item) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := item[t.key].(*types.AttributeValueMemberS)
	if !ok {
		panic("ddbfake: item without the string key " + t.key)
	}
	t.items[k.Value] = maps.Clone(item)
}

// Inject makes the next len(errs) calls of op fail with errs, in order.
func (t *Table) Inject(op string, errs ...error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inject[op] = append(t.inject[op], errs...)
}

// FailAlways makes every call of op fail with err (nil: stop failing).
func (t *Table) FailAlways(op string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		delete(t.forever, op)
		return
	}
	t.forever[op] = err
}

// Calls returns the operations so far, each with its outcome ("ok",
// "condition failed", "error: …").
func (t *Table) Calls() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.calls)
}

// Count returns how many calls of op ended with outcome ("" for any).
func (t *Table) Count(op, outcome string) int {
	n := 0
	for _, c := range t.Calls() {
		if outcome == "" && strings.HasPrefix(c, op+" ") || c == op+" "+outcome {
			n++
		}
	}
	return n
}

func (t *Table) log(op, outcome string) { t.calls = append(t.calls, op+" "+outcome) }

// begin records an injected failure or checks the common input. t.mu held.
func (t *Table) begin(ctx context.Context, op string, table *string) error {
	err := t.forever[op]
	if err == nil {
		if q := t.inject[op]; len(q) > 0 {
			t.inject[op], err = q[1:], q[0]
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && (table == nil || *table != t.name) {
		err = &types.ResourceNotFoundException{Message: ptr("Requested resource not found")}
	}
	if err != nil {
		t.log(op, "error: "+err.Error())
	}
	return err
}

func validation(op, msg string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: op + ": " + fmt.Sprintf(msg, args...), Fault: smithy.FaultClient}
}

// keyOf checks a Key map (exactly the partition key, a string).
func (t *Table) keyOf(key Item) (string, bool) {
	k, ok := key[t.key].(*types.AttributeValueMemberS)
	if !ok || len(key) != 1 || k.Value == "" {
		return "", false
	}
	return k.Value, true
}

// conditionFailed is DynamoDB's answer to a false condition.
func conditionFailed(old Item, rv types.ReturnValuesOnConditionCheckFailure, omit bool) error {
	e := &types.ConditionalCheckFailedException{Message: ptr("The conditional request failed")}
	if rv == types.ReturnValuesOnConditionCheckFailureAllOld && !omit && old != nil {
		e.Item = maps.Clone(old)
	}
	return e
}

// PutItem stores an item if its condition holds for the current one.
func (t *Table) PutItem(ctx context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin(ctx, OpPut, in.TableName); err != nil {
		return nil, err
	}
	k, ok := in.Item[t.key].(*types.AttributeValueMemberS)
	if !ok || k.Value == "" {
		err := validation(OpPut, "item lacks the string key %s", t.key)
		t.log(OpPut, "error: "+err.Error())
		return nil, err
	}
	old := t.items[k.Value]
	holds, err := check(OpPut, in.ConditionExpression, "", in.ExpressionAttributeNames, in.ExpressionAttributeValues, old)
	if err != nil {
		t.log(OpPut, "error: "+err.Error())
		return nil, err
	}
	if !holds {
		t.log(OpPut, "condition failed")
		return nil, conditionFailed(old, in.ReturnValuesOnConditionCheckFailure, t.OmitOldItem)
	}
	t.items[k.Value] = maps.Clone(in.Item)
	t.log(OpPut, "ok")
	return &dynamodb.PutItemOutput{}, nil
}

// UpdateItem applies a SET expression if the condition holds; like
// DynamoDB it creates the item when there is none and no condition
// prevents it.
func (t *Table) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin(ctx, OpUpdate, in.TableName); err != nil {
		return nil, err
	}
	fail := func(err error) (*dynamodb.UpdateItemOutput, error) {
		t.log(OpUpdate, "error: "+err.Error())
		return nil, err
	}
	k, ok := t.keyOf(in.Key)
	if !ok {
		return fail(validation(OpUpdate, "key must be exactly the string %s", t.key))
	}
	if in.UpdateExpression == nil {
		return fail(validation(OpUpdate, "no update expression"))
	}
	old := t.items[k]
	holds, err := check(OpUpdate, in.ConditionExpression, *in.UpdateExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, old)
	if err != nil {
		return fail(err)
	}
	if !holds {
		t.log(OpUpdate, "condition failed")
		return nil, conditionFailed(old, in.ReturnValuesOnConditionCheckFailure, t.OmitOldItem)
	}
	next := maps.Clone(old)
	if next == nil {
		next = Item{t.key: &types.AttributeValueMemberS{Value: k}}
	}
	if err := set(OpUpdate, *in.UpdateExpression, in.ExpressionAttributeNames, in.ExpressionAttributeValues, next, t.key); err != nil {
		return fail(err)
	}
	t.items[k] = next
	t.log(OpUpdate, "ok")
	return &dynamodb.UpdateItemOutput{}, nil
}

// DeleteItem deletes the item if the condition holds (deleting nothing
// is not an error, as in DynamoDB).
func (t *Table) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin(ctx, OpDelete, in.TableName); err != nil {
		return nil, err
	}
	k, ok := t.keyOf(in.Key)
	if !ok {
		err := validation(OpDelete, "key must be exactly the string %s", t.key)
		t.log(OpDelete, "error: "+err.Error())
		return nil, err
	}
	old := t.items[k]
	holds, err := check(OpDelete, in.ConditionExpression, "", in.ExpressionAttributeNames, in.ExpressionAttributeValues, old)
	if err != nil {
		t.log(OpDelete, "error: "+err.Error())
		return nil, err
	}
	if !holds {
		t.log(OpDelete, "condition failed")
		return nil, conditionFailed(old, in.ReturnValuesOnConditionCheckFailure, t.OmitOldItem)
	}
	delete(t.items, k)
	t.log(OpDelete, "ok")
	return &dynamodb.DeleteItemOutput{}, nil
}

// GetItem returns a copy of the item (always consistent).
func (t *Table) GetItem(ctx context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.begin(ctx, OpGet, in.TableName); err != nil {
		return nil, err
	}
	k, ok := t.keyOf(in.Key)
	if !ok {
		err := validation(OpGet, "key must be exactly the string %s", t.key)
		t.log(OpGet, "error: "+err.Error())
		return nil, err
	}
	t.log(OpGet, "ok")
	return &dynamodb.GetItemOutput{Item: maps.Clone(t.items[k])}, nil
}

// refs resolves #names and :values and remembers which were used, so
// that unused ones can be rejected as DynamoDB does.
type refs struct {
	op         string
	names      map[string]string
	values     map[string]types.AttributeValue
	usedNames  map[string]bool
	usedValues map[string]bool
}

func (r *refs) path(tok string) (string, error) {
	if strings.HasPrefix(tok, "#") {
		n, ok := r.names[tok]
		if !ok {
			return "", validation(r.op, "undefined expression attribute name %s", tok)
		}
		r.usedNames[tok] = true
		return n, nil
	}
	if !pathRE.MatchString(tok) {
		return "", validation(r.op, "unsupported attribute path %q", tok)
	}
	return tok, nil
}

func (r *refs) value(tok string) (types.AttributeValue, error) {
	v, ok := r.values[tok]
	if !ok {
		return nil, validation(r.op, "undefined expression attribute value %s", tok)
	}
	r.usedValues[tok] = true
	return v, nil
}

// operand is an attribute path or a :value; missing attributes are nil.
func (r *refs) operand(tok string, item Item) (types.AttributeValue, error) {
	if strings.HasPrefix(tok, ":") {
		return r.value(tok)
	}
	p, err := r.path(tok)
	if err != nil {
		return nil, err
	}
	return item[p], nil
}

var (
	pathRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	funcRE = regexp.MustCompile(`^(attribute_exists|attribute_not_exists)\(\s*(\S+?)\s*\)$`)
	cmpRE  = regexp.MustCompile(`^(\S+)\s*(<>|<=|>=|=|<|>)\s*(\S+)$`)
	setRE  = regexp.MustCompile(`^(\S+)\s*=\s*(\S+)$`)
	orRE   = regexp.MustCompile(`(?i)\s+OR\s+`)
	andRE  = regexp.MustCompile(`(?i)\s+AND\s+`)
)

// check evaluates cond against item (nil: no item) and, once the update
// expression is parsed too, rejects unused names and values.
func check(op string, cond *string, update string, names map[string]string, values map[string]types.AttributeValue, item Item) (bool, error) {
	r := &refs{op: op, names: names, values: values, usedNames: map[string]bool{}, usedValues: map[string]bool{}}
	holds := true
	if cond != nil {
		var err error
		if holds, err = r.eval(strings.TrimSpace(*cond), item); err != nil {
			return false, err
		}
	}
	if update != "" {
		// Parse only, against a scratch item, to mark its references.
		if err := r.set(update, Item{}, ""); err != nil {
			return false, err
		}
	}
	for n := range names {
		if !r.usedNames[n] {
			return false, validation(op, "Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", n)
		}
	}
	for v := range values {
		if !r.usedValues[v] {
			return false, validation(op, "Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", v)
		}
	}
	return holds, nil
}

// eval: OR of ANDs of terms; no parentheses besides function calls.
// Every term is evaluated (no short cut) so every reference is checked.
func (r *refs) eval(expr string, item Item) (bool, error) {
	if expr == "" {
		return false, validation(r.op, "empty condition expression")
	}
	anyOr := false
	for _, disj := range orRE.Split(expr, -1) {
		all := true
		for _, term := range andRE.Split(disj, -1) {
			ok, err := r.term(strings.TrimSpace(term), item)
			if err != nil {
				return false, err
			}
			all = all && ok
		}
		anyOr = anyOr || all
	}
	return anyOr, nil
}

func (r *refs) term(term string, item Item) (bool, error) {
	if m := funcRE.FindStringSubmatch(term); m != nil {
		p, err := r.path(m[2])
		if err != nil {
			return false, err
		}
		_, exists := item[p]
		return exists == (m[1] == "attribute_exists"), nil
	}
	m := cmpRE.FindStringSubmatch(term)
	if m == nil {
		return false, validation(r.op, "unsupported condition %q", term)
	}
	a, err := r.operand(m[1], item)
	if err != nil {
		return false, err
	}
	b, err := r.operand(m[3], item)
	if err != nil {
		return false, err
	}
	c, ok := compare(a, b)
	if !ok {
		// A missing attribute or different types: the comparison is
		// false, even for <>.
		return false, nil
	}
	switch m[2] {
	case "=":
		return c == 0, nil
	case "<>":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	default:
		return c >= 0, nil
	}
}

// compare orders two values of the same scalar type (S or N).
func compare(a, b types.AttributeValue) (int, bool) {
	switch x := a.(type) {
	case *types.AttributeValueMemberS:
		if y, ok := b.(*types.AttributeValueMemberS); ok {
			return strings.Compare(x.Value, y.Value), true
		}
	case *types.AttributeValueMemberN:
		y, ok := b.(*types.AttributeValueMemberN)
		if !ok {
			return 0, false
		}
		xn, ok1 := new(big.Rat).SetString(x.Value)
		yn, ok2 := new(big.Rat).SetString(y.Value)
		if ok1 && ok2 {
			return xn.Cmp(yn), true
		}
	}
	return 0, false
}

// set applies "SET path = :value, …" to item.
func set(op, update string, names map[string]string, values map[string]types.AttributeValue, item Item, key string) error {
	r := &refs{op: op, names: names, values: values, usedNames: map[string]bool{}, usedValues: map[string]bool{}}
	return r.set(update, item, key)
}

func (r *refs) set(update string, item Item, key string) error {
	rest, ok := strings.CutPrefix(strings.TrimSpace(update), "SET ")
	if !ok {
		return validation(r.op, "unsupported update expression %q (only SET)", update)
	}
	for _, a := range strings.Split(rest, ",") {
		m := setRE.FindStringSubmatch(strings.TrimSpace(a))
		if m == nil {
			return validation(r.op, "unsupported SET action %q", a)
		}
		p, err := r.path(m[1])
		if err != nil {
			return err
		}
		if key != "" && p == key {
			return validation(r.op, "cannot update the key attribute %s", p)
		}
		v, err := r.value(m[2])
		if err != nil {
			return err
		}
		item[p] = v
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
