package rds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
)

// failureStates end a wait at once: RDS does not leave them on its own.
var failureStates = map[string]bool{
	"failed":                                          true,
	"incompatible-parameters":                         true,
	"incompatible-restore":                            true,
	"incompatible-network":                            true,
	"incompatible-option-group":                       true,
	"incompatible-credentials":                        true,
	"storage-full":                                    true,
	"inaccessible-encryption-credentials":             true,
	"inaccessible-encryption-credentials-recoverable": true,
}

// throttleCodes are the API error codes of a throttled call (the SDK's
// retry.DefaultThrottleErrorCodes that RDS uses).
var throttleCodes = map[string]bool{
	"Throttling":                true,
	"ThrottlingException":       true,
	"RequestThrottled":          true,
	"RequestThrottledException": true,
	"RequestLimitExceeded":      true,
	"TooManyRequestsException":  true,
}

// deniedCodes are the API error codes of a call AWS refused to authorize.
// KMSKeyNotAccessibleFault is the KMS key policy saying no to a restore.
var deniedCodes = map[string]bool{
	"AccessDenied":             true,
	"AccessDeniedException":    true,
	"UnauthorizedOperation":    true,
	"KMSKeyNotAccessibleFault": true,
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isThrottle(err error) bool     { return throttleCodes[apiCode(err)] }
func isAccessDenied(err error) bool { return deniedCodes[apiCode(err)] }

func isStateFault(err error) bool {
	var cf *types.InvalidDBClusterStateFault
	var inf *types.InvalidDBInstanceStateFault
	return errors.As(err, &cf) || errors.As(err, &inf)
}

func isNotFound(err error) bool {
	var cf *types.DBClusterNotFoundFault
	var inf *types.DBInstanceNotFoundFault
	return errors.Is(err, ErrNotFound) || errors.As(err, &cf) || errors.As(err, &inf)
}

// isAPIError reports whether AWS answered (and so rejected the call); any
// other error (transport, cancelled context) leaves it open whether a
// create call took effect.
func isAPIError(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae)
}

// classify adds the sentinel that tells the caller what kind of failure err
// is, keeping the SDK error for errors.As.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case isAccessDenied(err):
		return fmt.Errorf("%w: %w", ErrAccessDenied, err)
	case isThrottle(err):
		return fmt.Errorf("%w: %w", ErrThrottled, err)
	case isNotFound(err) && !errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case isStateFault(err):
		return fmt.Errorf("%w (the DB stayed busy through every retry; retrying later can help)", err)
	}
	return err
}

// maxAttempts bounds the retries of one call.
const maxAttempts = 8

func (c *Client) retryBase() time.Duration { return max(c.cfg.PollInterval/2, time.Millisecond) }
func (c *Client) retryCap() time.Duration  { return 4 * c.cfg.PollInterval }

// call runs fn and retries it with exponential backoff while it is
// throttled or — with stateFaults, for calls right after a restore or
// create — while RDS answers InvalidDB*StateFault. Retries are bounded by
// maxAttempts and WaitTimeout. The error is classified.
func (c *Client) call(ctx context.Context, op string, stateFaults bool, fn func(context.Context) error) error {
	deadline := c.now().Add(c.cfg.WaitTimeout)
	delay := c.retryBase()
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		again := isThrottle(err) || (stateFaults && isStateFault(err))
		if !again || attempt >= maxAttempts || c.now().Add(delay).After(deadline) || ctx.Err() != nil {
			return classify(err)
		}
		c.log.Warn("rds call retried", "op", op, "attempt", attempt, "delay", delay, "error", apiCode(err))
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(delay*2, c.retryCap())
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// state is what the waits look at.
type state struct {
	status             string
	arn                string
	pendingPassword    bool
	pendingRetention   bool
	retention          int32
	secretARN          string
	secretStatus       string
	deletionProtection bool
	endpoints          []string
	// groups are the VPC security groups by id, with their status
	// (adding, active, removing, …).
	groups              map[string]string
	performanceInsights bool
	monitoringInterval  int32
	logExports          []string
	iamAuth             bool
	// class is an instance's class and pendingClass a class change not
	// applied yet; maxACU is a Serverless v2 cluster's maximum capacity.
	class        string
	pendingClass bool
	maxACU       float64
	members      []types.DBClusterMember
	cluster      *types.DBCluster
	instance     *types.DBInstance
}

func clusterState(cl *types.DBCluster) state {
	s := state{
		status:              deref(cl.Status),
		arn:                 deref(cl.DBClusterArn),
		retention:           deref(cl.BackupRetentionPeriod),
		deletionProtection:  deref(cl.DeletionProtection),
		members:             cl.DBClusterMembers,
		cluster:             cl,
		groups:              groupMap(cl.VpcSecurityGroups),
		performanceInsights: deref(cl.PerformanceInsightsEnabled),
		monitoringInterval:  deref(cl.MonitoringInterval),
		logExports:          cl.EnabledCloudwatchLogsExports,
		iamAuth:             deref(cl.IAMDatabaseAuthenticationEnabled),
	}
	if sc := cl.ServerlessV2ScalingConfiguration; sc != nil {
		s.maxACU = deref(sc.MaxCapacity)
	}
	if p := cl.PendingModifiedValues; p != nil {
		s.pendingPassword = p.MasterUserPassword != nil
		s.pendingRetention = p.BackupRetentionPeriod != nil
	}
	if ms := cl.MasterUserSecret; ms != nil {
		s.secretARN, s.secretStatus = deref(ms.SecretArn), deref(ms.SecretStatus)
	}
	for _, e := range []*string{cl.Endpoint, cl.ReaderEndpoint} {
		if e != nil && *e != "" {
			s.endpoints = append(s.endpoints, *e)
		}
	}
	return s
}

func instanceState(in *types.DBInstance) state {
	s := state{
		status:              deref(in.DBInstanceStatus),
		arn:                 deref(in.DBInstanceArn),
		retention:           deref(in.BackupRetentionPeriod),
		deletionProtection:  deref(in.DeletionProtection),
		instance:            in,
		groups:              groupMap(in.VpcSecurityGroups),
		performanceInsights: deref(in.PerformanceInsightsEnabled),
		monitoringInterval:  deref(in.MonitoringInterval),
		logExports:          in.EnabledCloudwatchLogsExports,
		iamAuth:             deref(in.IAMDatabaseAuthenticationEnabled),
		class:               deref(in.DBInstanceClass),
	}
	if p := in.PendingModifiedValues; p != nil {
		s.pendingPassword = p.MasterUserPassword != nil
		s.pendingRetention = p.BackupRetentionPeriod != nil
		s.pendingClass = p.DBInstanceClass != nil
	}
	if ms := in.MasterUserSecret; ms != nil {
		s.secretARN, s.secretStatus = deref(ms.SecretArn), deref(ms.SecretStatus)
	}
	if in.Endpoint != nil && deref(in.Endpoint.Address) != "" {
		s.endpoints = append(s.endpoints, *in.Endpoint.Address)
	}
	return s
}

func groupMap(gs []types.VpcSecurityGroupMembership) map[string]string {
	m := make(map[string]string, len(gs))
	for _, g := range gs {
		m[deref(g.VpcSecurityGroupId)] = deref(g.Status)
	}
	return m
}

// describe reads one cluster or instance; a missing one is ErrNotFound.
func (c *Client) describe(ctx context.Context, kind, id string) (state, error) {
	if kind == "cluster" {
		var out *awsrds.DescribeDBClustersOutput
		err := c.call(ctx, "DescribeDBClusters", false, func(ctx context.Context) (err error) {
			out, err = c.api.DescribeDBClusters(ctx, &awsrds.DescribeDBClustersInput{DBClusterIdentifier: &id})
			return err
		})
		if err != nil {
			return state{}, fmt.Errorf("describe cluster %q: %w", id, err)
		}
		if len(out.DBClusters) == 0 {
			return state{}, fmt.Errorf("describe cluster %q: %w", id, ErrNotFound)
		}
		return clusterState(&out.DBClusters[0]), nil
	}
	var out *awsrds.DescribeDBInstancesOutput
	err := c.call(ctx, "DescribeDBInstances", false, func(ctx context.Context) (err error) {
		out, err = c.api.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
		return err
	})
	if err != nil {
		return state{}, fmt.Errorf("describe instance %q: %w", id, err)
	}
	if len(out.DBInstances) == 0 {
		return state{}, fmt.Errorf("describe instance %q: %w", id, ErrNotFound)
	}
	return instanceState(&out.DBInstances[0]), nil
}

var errWaitExpired = errors.New("wait timeout expired")

// wait polls kind id every PollInterval until done says so, bounded by
// WaitTimeout. A failure state ends it at once (ErrFailedState), and so
// does AccessDenied (ErrAccessDenied) or any other error AWS answers with;
// throttling and transport errors are polled through. With gone, a
// missing DB is success; otherwise it is ErrNotFound.
func (c *Client) wait(ctx context.Context, what, kind, id string, gone bool, done func(state) bool) error {
	start := c.now()
	wctx, cancel := context.WithTimeoutCause(ctx, c.cfg.WaitTimeout, errWaitExpired)
	defer cancel()
	last := "unknown"
	var lastErr error
	for {
		s, err := c.describe(wctx, kind, id)
		switch {
		case err == nil:
			if s.status != last {
				c.log.Debug("rds status", "db", id, "status", s.status)
			}
			last, lastErr = s.status, nil
			if !gone && failureStates[s.status] {
				return fmt.Errorf("wait for %s %q to be %s: status %q: %w", kind, id, what, s.status, ErrFailedState)
			}
			if done(s) {
				c.log.Info("rds wait done", "db", id, "status", s.status, "wait", what, "duration", c.now().Sub(start).Round(time.Millisecond).String())
				return nil
			}
		case gone && errors.Is(err, ErrNotFound):
			c.log.Info("rds wait done", "db", id, "wait", what, "duration", c.now().Sub(start).Round(time.Millisecond).String())
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("wait for %s %q to be %s: %w", kind, id, what, ctx.Err())
		case errors.Is(err, ErrNotFound):
			return fmt.Errorf("wait for %s %q to be %s: it disappeared: %w", kind, id, what, err)
		case wctx.Err() != nil:
			// The deadline hit during the call; reported below.
		case errors.Is(err, ErrThrottled) || !isAPIError(err):
			lastErr = err
		default:
			// AccessDenied, not found, anything else AWS says: waiting
			// longer will not change the answer.
			return fmt.Errorf("wait for %s %q to be %s: %w", kind, id, what, err)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("wait for %s %q to be %s: %w", kind, id, what, ctx.Err())
			}
			msg := fmt.Sprintf("wait for %s %q to be %s: still %q after %s", kind, id, what, last, c.cfg.WaitTimeout)
			if lastErr != nil {
				msg += fmt.Sprintf(" (last error: %v)", lastErr)
			}
			return fmt.Errorf("%s: %w", msg, ErrTimeout)
		case <-time.After(c.cfg.PollInterval):
		}
	}
}

func (c *Client) waitAvailable(ctx context.Context, kind, id string) error {
	return c.wait(ctx, "available", kind, id, false, func(s state) bool { return s.status == "available" })
}

func (c *Client) waitGone(ctx context.Context, kind, id string) error {
	return c.wait(ctx, "deleted", kind, id, true, func(state) bool { return false })
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func eqFold(a, b string) bool { return a != "" && strings.EqualFold(a, b) }
