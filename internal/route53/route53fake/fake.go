// Package route53fake is an in-memory Route53 hosted zone that satisfies
// route53.API for tests: records sorted and paginated as Route53 does,
// changes that stay PENDING for a number of GetChange polls, injected
// errors (AccessDenied, throttling, anything) and a log of every call.
package route53fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"

	"github.com/restage/restage/internal/route53"
)

// Operation names, as used in Inject and in the call log.
const (
	OpList   = "ListResourceRecordSets"
	OpChange = "ChangeResourceRecordSets"
	OpGet    = "GetChange"
)

// AccessDenied is the error Route53 returns to a role without the action.
func AccessDenied(op string) error {
	return &smithy.GenericAPIError{Code: "AccessDenied", Message: "User is not authorized to perform: route53:" + op, Fault: smithy.FaultClient}
}

// Throttling is Route53's rate-limit error.
func Throttling() error {
	return &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded", Fault: smithy.FaultClient}
}

// Zone is one hosted zone. The zero value is not usable; call New.
type Zone struct {
	// PageSize caps records per ListResourceRecordSets page (default 300,
	// like Route53; a request's MaxItems may lower it).
	PageSize int

	mu      sync.Mutex
	id      string
	records map[key]types.ResourceRecordSet
	changes map[string]*change
	polls   int // GetChange polls before a change turns INSYNC
	inject  map[string][]error
	forever map[string]error
	calls   []string
	seq     int
}

type key struct {
	name string // normalised, with trailing dot
	typ  types.RRType
	set  string
}

type change struct {
	status types.ChangeStatus
	left   int
}

var _ route53.API = (*Zone)(nil)

// New returns an empty zone with id; each change is INSYNC after polls
// GetChange calls (0: at once, in the ChangeResourceRecordSets answer).
func New(id string, polls int) *Zone {
	return &Zone{
		id:      strings.TrimPrefix(id, "/hostedzone/"),
		records: map[key]types.ResourceRecordSet{},
		changes: map[string]*change{},
		polls:   polls,
		inject:  map[string][]error{},
		forever: map[string]error{},
	}
}

// SetPolls changes how many GetChange polls later changes stay PENDING.
func (z *Zone) SetPolls(n int) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.polls = n
}

// Put stores a record set as is (for setting up a zone).
func (z *Zone) Put(rs types.ResourceRecordSet) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.records[keyOf(&rs)] = clone(rs)
}

// PutCNAME stores a simple CNAME record.
func (z *Zone) PutCNAME(name, value string, ttl int64) {
	z.Put(types.ResourceRecordSet{
		Name: &name, Type: types.RRTypeCname, TTL: &ttl,
		ResourceRecords: []types.ResourceRecord{{Value: &value}},
	})
}

// CNAME returns the value and TTL of the CNAME name, as stored.
func (z *Zone) CNAME(name string) (value string, ttl int64, ok bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	rs, ok := z.records[key{fqdn(name), types.RRTypeCname, ""}]
	if !ok {
		return "", 0, false
	}
	return *rs.ResourceRecords[0].Value, *rs.TTL, true
}

// Inject makes the next len(errs) calls of op fail with errs, in order.
func (z *Zone) Inject(op string, errs ...error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.inject[op] = append(z.inject[op], errs...)
}

// FailAlways makes every call of op fail with err (nil: stop failing).
func (z *Zone) FailAlways(op string, err error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if err == nil {
		delete(z.forever, op)
		return
	}
	z.forever[op] = err
}

// Calls returns the operations called so far, in order, each with the
// outcome: "GetChange PENDING", "ChangeResourceRecordSets error: …".
func (z *Zone) Calls() []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return slices.Clone(z.calls)
}

// Count returns how many times op was called (successful or not).
func (z *Zone) Count(op string) int {
	n := 0
	for _, c := range z.Calls() {
		if c == op || strings.HasPrefix(c, op+" ") {
			n++
		}
	}
	return n
}

// fail records the call and returns its injected error, if any. z.mu held.
func (z *Zone) fail(op string) error {
	if err := z.forever[op]; err != nil {
		z.calls = append(z.calls, op+" error: "+err.Error())
		return err
	}
	if q := z.inject[op]; len(q) > 0 {
		z.inject[op] = q[1:]
		if q[0] != nil {
			z.calls = append(z.calls, op+" error: "+q[0].Error())
			return q[0]
		}
	}
	return nil
}

func (z *Zone) checkZone(id *string) error {
	if id == nil || strings.TrimPrefix(*id, "/hostedzone/") != z.id {
		return &smithy.GenericAPIError{Code: "NoSuchHostedZone", Message: fmt.Sprintf("no hosted zone %q", deref(id)), Fault: smithy.FaultClient}
	}
	return nil
}

func invalid(msg string, args ...any) error {
	return &smithy.GenericAPIError{Code: "InvalidInput", Message: fmt.Sprintf(msg, args...), Fault: smithy.FaultClient}
}

// ListResourceRecordSets lists records in Route53's order (labels
// reversed, then type, then set identifier) from the start position.
func (z *Zone) ListResourceRecordSets(ctx context.Context, in *r53.ListResourceRecordSetsInput, _ ...func(*r53.Options)) (*r53.ListResourceRecordSetsOutput, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.fail(OpList); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := z.checkZone(in.HostedZoneId); err != nil {
		return nil, err
	}
	if in.StartRecordType != "" && in.StartRecordName == nil {
		return nil, invalid("StartRecordType requires StartRecordName")
	}
	keys := make([]key, 0, len(z.records))
	for k := range z.records {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	var start key
	if in.StartRecordName != nil {
		start = key{fqdn(*in.StartRecordName), in.StartRecordType, deref(in.StartRecordIdentifier)}
	}
	size := z.PageSize
	if size <= 0 {
		size = 300
	}
	if in.MaxItems != nil && int(*in.MaxItems) < size {
		size = int(*in.MaxItems)
	}
	out := &r53.ListResourceRecordSetsOutput{MaxItems: in.MaxItems}
	for _, k := range keys {
		if in.StartRecordName != nil && compare(k, start) < 0 {
			continue
		}
		if len(out.ResourceRecordSets) == size {
			out.IsTruncated = true
			out.NextRecordName = ptr(k.name)
			out.NextRecordType = k.typ
			if k.set != "" {
				out.NextRecordIdentifier = ptr(k.set)
			}
			break
		}
		out.ResourceRecordSets = append(out.ResourceRecordSets, clone(z.records[k]))
	}
	z.calls = append(z.calls, fmt.Sprintf("%s %d", OpList, len(out.ResourceRecordSets)))
	return out, nil
}

// ChangeResourceRecordSets applies a batch atomically, validating what
// Route53 validates for the changes restage makes.
func (z *Zone) ChangeResourceRecordSets(ctx context.Context, in *r53.ChangeResourceRecordSetsInput, _ ...func(*r53.Options)) (*r53.ChangeResourceRecordSetsOutput, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.fail(OpChange); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := z.checkZone(in.HostedZoneId); err != nil {
		return nil, err
	}
	if in.ChangeBatch == nil || len(in.ChangeBatch.Changes) == 0 {
		return nil, invalid("empty change batch")
	}
	next := maps.Clone(z.records)
	for _, c := range in.ChangeBatch.Changes {
		rs := c.ResourceRecordSet
		if rs == nil || rs.Name == nil || rs.Type == "" {
			return nil, invalid("change without a record set name and type")
		}
		if rs.AliasTarget == nil && (rs.TTL == nil || len(rs.ResourceRecords) == 0) {
			return nil, invalid("record %s needs a TTL and values", *rs.Name)
		}
		if rs.Type == types.RRTypeCname && len(rs.ResourceRecords) > 1 {
			return nil, invalid("CNAME %s with %d values", *rs.Name, len(rs.ResourceRecords))
		}
		k := keyOf(rs)
		switch c.Action {
		case types.ChangeActionUpsert:
		case types.ChangeActionCreate:
			if _, ok := next[k]; ok {
				return nil, invalid("record %s %s exists", k.name, k.typ)
			}
		case types.ChangeActionDelete:
			if _, ok := next[k]; !ok {
				return nil, invalid("record %s %s not found", k.name, k.typ)
			}
			delete(next, k)
			continue
		default:
			return nil, invalid("action %q", c.Action)
		}
		// A CNAME can't share its name with another type, in either
		// direction.
		for o := range next {
			if o.name == k.name && o.typ != k.typ && (o.typ == types.RRTypeCname || k.typ == types.RRTypeCname) {
				return nil, invalid("RRSet of type %s with DNS name %s is not permitted as it conflicts with other records with the same DNS name", k.typ, k.name)
			}
		}
		next[k] = clone(*rs)
	}
	z.records = next
	z.seq++
	id := fmt.Sprintf("/change/C%08d", z.seq)
	ch := &change{status: types.ChangeStatusPending, left: z.polls}
	if z.polls == 0 {
		ch.status = types.ChangeStatusInsync
	}
	z.changes[strings.TrimPrefix(id, "/change/")] = ch
	z.calls = append(z.calls, fmt.Sprintf("%s %s", OpChange, ch.status))
	now := time.Now()
	return &r53.ChangeResourceRecordSetsOutput{ChangeInfo: &types.ChangeInfo{
		Id: &id, Status: ch.status, SubmittedAt: &now, Comment: in.ChangeBatch.Comment,
	}}, nil
}

// GetChange reports PENDING for the zone's number of polls, then INSYNC.
func (z *Zone) GetChange(ctx context.Context, in *r53.GetChangeInput, _ ...func(*r53.Options)) (*r53.GetChangeOutput, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if err := z.fail(OpGet); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if in.Id == nil {
		return nil, invalid("no change id")
	}
	id := strings.TrimPrefix(*in.Id, "/change/")
	ch, ok := z.changes[id]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NoSuchChange", Message: "no change " + id, Fault: smithy.FaultClient}
	}
	if ch.status == types.ChangeStatusPending {
		ch.left--
		if ch.left <= 0 {
			ch.status = types.ChangeStatusInsync
		}
	}
	z.calls = append(z.calls, fmt.Sprintf("%s %s", OpGet, ch.status))
	full := "/change/" + id
	return &r53.GetChangeOutput{ChangeInfo: &types.ChangeInfo{Id: &full, Status: ch.status}}, nil
}

// compare orders keys as Route53 lists them.
func compare(a, b key) int {
	if c := strings.Compare(reversed(a.name), reversed(b.name)); c != 0 {
		return c
	}
	if c := strings.Compare(string(a.typ), string(b.typ)); c != 0 {
		return c
	}
	return strings.Compare(a.set, b.set)
}

func reversed(name string) string {
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

func keyOf(rs *types.ResourceRecordSet) key {
	return key{fqdn(deref(rs.Name)), rs.Type, deref(rs.SetIdentifier)}
}

// fqdn is how Route53 stores and returns names: lower case, trailing dot.
func fqdn(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, ".")) + "."
}

func clone(rs types.ResourceRecordSet) types.ResourceRecordSet {
	rs.Name = ptr(fqdn(deref(rs.Name)))
	rs.ResourceRecords = slices.Clone(rs.ResourceRecords)
	if rs.TTL != nil {
		rs.TTL = ptr(*rs.TTL)
	}
	return rs
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
