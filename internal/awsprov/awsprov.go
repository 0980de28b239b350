// Package awsprov is the AWS provider of the refresh pipeline: the staging
// copy is an RDS instance or Aurora cluster restored from production's
// newest snapshot (internal/rds), the stable staging name is a Route53
// CNAME (internal/route53), and one run per target is guaranteed by a
// DynamoDB lease (internal/ddblock). It implements refresh.Provider; the
// pipeline does not know it runs on AWS.
//
// Every AWS action it calls goes through those packages (declared in
// internal/awsiam), plus secretsmanager:GetSecretValue for an RDS-managed
// master password.
package awsprov

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/restage/restage/internal/ddblock"
	"github.com/restage/restage/internal/engine"
	"github.com/restage/restage/internal/engines"
	"github.com/restage/restage/internal/lifecycle"
	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/refresh"
	"github.com/restage/restage/internal/route53"
)

// Master password modes.
const (
	PasswordManaged = "managed" // RDS keeps it in Secrets Manager
	PasswordRandom  = "random"  // restage sets a fresh random one
)

// TLS modes for restage's own connections to the restored DB.
const (
	TLSOff    = engine.TLSOff    // plain TCP: tests against local servers only, not reachable from the environment
	TLSOn     = engine.TLSOn     // encrypted, server certificate not verified: the explicit, logged opt-out
	TLSVerify = engine.TLSVerify // the default: certificate and host name verified against TLSCAFile
)

// DefaultTLSCAFile is where the image keeps the RDS global CA bundle (the
// Dockerfile fetches it at build time and checks its SHA-256).
const DefaultTLSCAFile = "/etc/restage/rds-ca.pem"

// Defaults.
const (
	DefaultReadyTimeout = 10 * time.Minute
	DefaultLockWait     = 30 * time.Minute
	defaultDNSRestore   = 2 * time.Minute
)

// Config configures the provider (docs/aws-config.md).
type Config struct {
	// Target is the staging database's name (rds.Config.Target).
	Target string
	// Engine is the RDS engine (aurora-mysql, aurora-postgresql, mysql,
	// postgres, mariadb); it must be the rds.Client's.
	Engine string
	// DBName is the database inside the server that is masked and served.
	DBName string
	// MasterPasswordMode is PasswordManaged (default) or PasswordRandom.
	MasterPasswordMode string
	// DNSName is the staging CNAME (for logs and checks; the DNS client
	// switches it).
	DNSName string
	// TLS is TLSVerify (also when empty), TLSOn (RESTAGE_TLS_INSECURE_SKIP_VERIFY)
	// or TLSOff (tests only). Without verification anyone in the path
	// inside the VPC could take the master and staging passwords.
	TLS string
	// TLSCAFile is a PEM CA bundle (the RDS CAs) the server certificate
	// is verified against; required for TLSVerify.
	TLSCAFile string
	// ReadyTimeout bounds Ready (default 10m).
	ReadyTimeout time.Duration
	// LockWait bounds how long SweepTask waits for a dead run's lease to
	// expire (RESTAGE_WAIT_TIMEOUT; default DefaultLockWait).
	LockWait time.Duration
	// LockPoll is the time between two tries of the lock in SweepTask
	// (default 10s).
	LockPoll time.Duration
	// Adopt is the identifier of a hand-made staging DB (not tagged by
	// restage) that may be returned as the previous DB by Switch and
	// retired. It must be the rds.Client's Config.Adopt, which lets the
	// ownership guard accept it.
	Adopt string
	// FinalSnapshot keeps a final snapshot (<id>-final) of a retired DB —
	// a masked one that served staging. Never of a discarded copy (it may
	// be unmasked) nor of a swept leftover.
	FinalSnapshot bool
	// PreserveUser and PreservePassword are the login Preserve reads the
	// current staging DB with: the first staging user (RESTAGE_STAGING_USERS),
	// who can read it — its master password may be unknowable. Needed only
	// with rows to preserve.
	PreserveUser     string
	PreservePassword string
	// AcceptSharedLogins accepts an inherited login that can't be locked
	// instead of refusing with refresh.ErrSharedLogin.
	AcceptSharedLogins bool
	// Resolve, when set, maps an RDS endpoint host to the host restage
	// connects to (an SSH tunnel; tests map fake endpoints to 127.0.0.1).
	// The DNS record always gets the endpoint itself.
	Resolve func(host string) string
	// Now is the clock for identifiers (default time.Now).
	Now func() time.Time
}

func (c *Config) tlsMode() string {
	if c.TLS != "" {
		return c.TLS
	}
	return TLSVerify
}

// Validate checks the configuration offline; every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Target == "" {
		errs = append(errs, errors.New("target: required"))
	}
	e := rds.Engine(c.Engine)
	if !e.Valid() {
		errs = append(errs, fmt.Errorf("engine %q: want aurora-mysql, aurora-postgresql, mysql, postgres or mariadb", c.Engine))
	}
	if c.DBName == "" {
		errs = append(errs, errors.New("database name (RESTAGE_DB_NAME): required"))
	} else if strings.ContainsAny(c.DBName, "/?#@: \t\n`\"'\\") || len(c.DBName) > 63 {
		errs = append(errs, fmt.Errorf("database name %q: want a plain identifier of at most 63 characters", c.DBName))
	}
	switch c.MasterPasswordMode {
	case "", PasswordManaged, PasswordRandom:
	default:
		errs = append(errs, fmt.Errorf("master password mode %q: want managed or random", c.MasterPasswordMode))
	}
	switch c.TLS {
	case TLSOff, TLSOn:
	case "", TLSVerify:
		if c.TLSCAFile == "" {
			errs = append(errs, errors.New("TLS verification needs a CA bundle (RESTAGE_TLS_CA_FILE; the image has "+DefaultTLSCAFile+"), or the explicit opt-out RESTAGE_TLS_INSECURE_SKIP_VERIFY=true"))
		}
	default:
		errs = append(errs, fmt.Errorf("TLS mode %q: want off, on or verify", c.TLS))
	}
	if c.TLSCAFile != "" {
		if _, err := os.Stat(c.TLSCAFile); err != nil {
			errs = append(errs, fmt.Errorf("TLS CA file: %w", err))
		}
	}
	if c.ReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("ready timeout %s: must not be negative", c.ReadyTimeout))
	}
	if c.Adopt != "" && strings.HasPrefix(c.Adopt, "restage-") {
		errs = append(errs, fmt.Errorf("adopt %q: restage's own DBs need no adoption", c.Adopt))
	}
	return errors.Join(errs...)
}

// SecretReader is the part of the Secrets Manager client the provider
// uses: reading an RDS-managed master password.
type SecretReader interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretReader = (*secretsmanager.Client)(nil)

// Provider is the AWS refresh.Provider.
type Provider struct {
	cfg     Config
	rdsc    *rds.Client
	dns     *route53.DNS
	lock    *ddblock.Locker
	secrets SecretReader
	log     *slog.Logger

	mu sync.Mutex
	// lost closes when this run's lease can no longer be proven.
	lost <-chan struct{}
	// dbs are the RDS views of the DBs this provider returned.
	dbs map[string]*rds.DB
	// passwords are the master passwords taken over, by DB name.
	passwords map[string]string
	// prevTTL is the TTL the staging record had before Switch.
	prevTTL int64
	// skipped are the leftovers the last Sweep left to the sweep task.
	skipped []string
}

var (
	_ refresh.Provider = (*Provider)(nil)
	_ refresh.Scaler   = (*Provider)(nil)
)

// New returns the provider. cfg is validated; rdsc, dns and lock must be
// configured for the same target (and secrets is needed for the managed
// master password).
func New(cfg Config, rdsc *rds.Client, dns *route53.DNS, lock *ddblock.Locker, secrets SecretReader, log *slog.Logger) (*Provider, error) {
	if cfg.MasterPasswordMode == "" {
		cfg.MasterPasswordMode = PasswordManaged
	}
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if rdsc == nil || dns == nil || lock == nil {
		errs = append(errs, errors.New("RDS, Route53 and lock clients are required"))
	}
	if rdsc != nil && !strings.EqualFold(rdsc.Adopted(), cfg.Adopt) {
		errs = append(errs, fmt.Errorf("adopt: the provider adopts %q, its RDS client %q (both must be RESTAGE_ADOPT)", cfg.Adopt, rdsc.Adopted()))
	}
	if cfg.MasterPasswordMode == PasswordManaged && secrets == nil {
		errs = append(errs, errors.New("managed master password: a Secrets Manager client is required"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.LockWait == 0 {
		cfg.LockWait = DefaultLockWait
	}
	if cfg.LockPoll == 0 {
		cfg.LockPoll = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch cfg.tlsMode() {
	case TLSVerify:
		if err := engines.PrepareTLS(cfg.TLSCAFile); err != nil {
			return nil, err
		}
	case TLSOn:
		log.Warn("TLS certificates of the copies are NOT verified (RESTAGE_TLS_INSECURE_SKIP_VERIFY=true): anyone in the path can read the master and staging passwords", "target", cfg.Target)
	}
	return &Provider{cfg: cfg, rdsc: rdsc, dns: dns, lock: lock, secrets: secrets,
		log: log.With("target", cfg.Target, "provider", "aws"),
		dbs: map[string]*rds.DB{}, passwords: map[string]string{}}, nil
}

func (p *Provider) engine() rds.Engine { return rds.Engine(p.cfg.Engine) }

// Lock takes the target's DynamoDB lease (renewed while the run lives);
// a lost lease makes Switch refuse.
func (p *Provider) Lock(ctx context.Context, runID string) (func(), error) {
	lost, release, err := p.lock.AcquireWithLoss(ctx, p.cfg.Target, runID)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.lost = lost
	p.mu.Unlock()
	return release, nil
}

// current reads the staging record and finds the DB behind it among
// restage's DBs of this target (nil if none or not restage's).
func (p *Provider) current(ctx context.Context) (host string, ttl int64, managed []*rds.DB, live *rds.DB, err error) {
	host, ttl, err = p.dns.Current(ctx)
	if err != nil {
		return "", 0, nil, nil, fmt.Errorf("read the staging record: %w", err)
	}
	managed, err = p.rdsc.Managed(ctx)
	if err != nil {
		return "", 0, nil, nil, fmt.Errorf("list restage's DBs: %w", err)
	}
	if host != "" {
		for _, d := range managed {
			if sameHost(d.Endpoint, host) {
				live = d
			}
		}
	}
	return host, ttl, managed, live, nil
}

func sameHost(a, b string) bool {
	n := func(s string) string { return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), ".")) }
	return a != "" && n(a) == n(b)
}

// Restore restores the newest snapshot (source mode snapshot), or copies
// the production source at its latest restorable time (clone,
// point_in_time), into restage-<target>-<time>, tagged with the run id
// before it exists (so a killed run leaves a leftover Sweep finds). The
// copy is quarantined, taken over and cleaned up the same way whatever
// its source.
func (p *Provider) Restore(ctx context.Context, runID string) (*refresh.DB, error) {
	mode := p.rdsc.SourceMode()
	var snap *rds.Snapshot
	from := "the source's latest restorable time (" + mode + ")"
	if mode == rds.SourceSnapshot {
		var err error
		if snap, err = p.rdsc.NewestSnapshot(ctx); err != nil {
			return nil, err
		}
		from = snap.ID
	}
	id, err := p.identifier(ctx)
	if err != nil {
		return nil, err
	}
	var rdb *rds.DB
	if snap != nil {
		rdb, err = p.rdsc.Restore(ctx, snap, id, runID)
	} else {
		rdb, err = p.rdsc.RestoreFromSource(ctx, id, runID)
	}
	if rdb == nil {
		return nil, err
	}
	db := p.remember(rdb)
	if db.RunID == "" {
		db.RunID = runID
	}
	if err != nil {
		return db, err
	}
	p.log.Info("restored", "step", refresh.StepRestore, "db", db.Name, "from", from, "endpoint", db.Endpoint)
	return db, nil
}

// ScaleDown implements refresh.Scaler: a copy created at the masking
// class (or masking max ACU) is moved to the staging size, applied
// immediately and waited for, before users and the security-group move.
// Without a masking size it does nothing.
func (p *Provider) ScaleDown(ctx context.Context, db *refresh.DB) error {
	if !p.rdsc.Scaled() {
		return nil
	}
	r := p.view(db)
	if err := p.rdsc.ScaleDown(ctx, r); err != nil {
		return err
	}
	p.mu.Lock()
	p.dbs[r.ID] = r
	p.mu.Unlock()
	p.log.Info("scaled down to the staging size", "step", refresh.StepUsers, "db", db.Name)
	return nil
}

// identifier names the new DB after the current minute; a name still
// taken (a run of the same minute) moves on to the next minute.
func (p *Provider) identifier(ctx context.Context) (string, error) {
	t := p.cfg.Now()
	for range 5 {
		id, err := rds.Identifier(p.cfg.Target, t)
		if err != nil {
			return "", err
		}
		_, err = p.rdsc.Get(ctx, id)
		if errors.Is(err, rds.ErrNotFound) {
			return id, nil
		}
		if err != nil {
			return "", fmt.Errorf("check identifier %s: %w", id, err)
		}
		t = t.Add(time.Minute)
	}
	return "", fmt.Errorf("no free identifier for target %s around %s", p.cfg.Target, p.cfg.Now().UTC().Format(time.RFC3339))
}

// remember converts an RDS view into the pipeline's DB and keeps the view.
func (p *Provider) remember(r *rds.DB) *refresh.DB {
	p.mu.Lock()
	defer p.mu.Unlock()
	cp := *r
	if cp.Engine == "" {
		cp.Engine = p.engine()
	}
	p.dbs[r.ID] = &cp
	return &refresh.DB{Name: r.ID, RunID: r.RunID, Engine: cp.Engine.Family(), Endpoint: p.endpoint(&cp)}
}

func (p *Provider) endpoint(r *rds.DB) string {
	host := r.Endpoint
	if host == "" {
		host = "(no endpoint yet)"
	}
	return net.JoinHostPort(host, strconv.Itoa(int(r.Port))) + "/" + p.cfg.DBName
}

// view returns the RDS view of db: the remembered one, or a minimal one
// (rds.Client trusts only ID and Engine and describes afresh).
func (p *Provider) view(db *refresh.DB) *rds.DB {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.dbs[db.Name]; r != nil {
		cp := *r
		return &cp
	}
	return &rds.DB{ID: db.Name, Engine: p.engine(), RunID: db.RunID}
}

// fresh re-describes db (endpoint, master user) and remembers it.
func (p *Provider) fresh(ctx context.Context, db *refresh.DB) (*rds.DB, error) {
	v := p.view(db)
	r, err := p.rdsc.Get(ctx, v.ID)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", v.ID, err)
	}
	if r.Engine == "" {
		r.Engine = v.Engine
	}
	p.mu.Lock()
	p.dbs[r.ID] = r
	p.mu.Unlock()
	db.Endpoint = p.endpoint(r)
	return r, nil
}

// Credentials takes over the master login: RDS manages it in Secrets
// Manager (read back through SecretReader), or a fresh random password
// is set. Either way it is never logged; db.AdminDSN is set.
func (p *Provider) Credentials(ctx context.Context, db *refresh.DB) (string, error) {
	r, err := p.fresh(ctx, db)
	if err != nil {
		return "", err
	}
	if r.MasterUsername == "" {
		return "", fmt.Errorf("%s: RDS reports no master user name", r.ID)
	}
	var password, note string
	switch p.cfg.MasterPasswordMode {
	case PasswordRandom:
		password, err = randomPassword()
		if err != nil {
			return "", err
		}
		if err := p.rdsc.SetMasterPassword(ctx, r, password); err != nil {
			return "", err
		}
		note = "master password of " + r.MasterUsername + " set to a fresh random value (not stored; reset it to log in by hand)"
	default:
		arn, err := p.rdsc.ManageMasterPassword(ctx, r)
		if err != nil {
			return "", err
		}
		password, err = p.secretPassword(ctx, arn)
		if err != nil {
			return "", err
		}
		note = "master password of " + r.MasterUsername + " managed by RDS in Secrets Manager (" + arn + ")"
	}
	p.mu.Lock()
	p.passwords[r.ID] = password
	p.mu.Unlock()
	if db.AdminDSN, err = p.dsnFor(r, r.MasterUsername, password); err != nil {
		return "", err
	}
	return note, nil
}

// secretPassword reads an RDS-managed master user secret: JSON with
// "username" and "password".
func (p *Provider) secretPassword(ctx context.Context, arn string) (string, error) {
	out, err := p.secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("secretsmanager:GetSecretValue on %s: %w", arn, err)
	}
	var v struct {
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil || v.Password == "" {
		// The error of Unmarshal may quote the secret: never wrap it.
		return "", fmt.Errorf("secret %s: not an RDS master user secret (JSON with a password)", arn)
	}
	return v.Password, nil
}

const pwAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomPassword is 32 characters from crypto/rand (≈190 bits), within
// every engine's limits (MySQL: 41) and free of characters RDS refuses.
func randomPassword() (string, error) {
	b := make([]byte, 32)
	size := big.NewInt(int64(len(pwAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, size)
		if err != nil {
			return "", fmt.Errorf("random password: %w", err)
		}
		b[i] = pwAlphabet[n.Int64()]
	}
	return string(b), nil
}

// Switch turns backups on as configured, marks db live and points the
// staging record at it. The DB the record pointed at before is returned:
// restage's or the adopted one, or — named by its host, so that Retire
// refuses it with a warning — any other; nil without a record. A change
// Route53 had accepted is switched back before the error is returned.
func (p *Provider) Switch(ctx context.Context, db *refresh.DB) (*refresh.DB, error) {
	if err := p.checkLease(); err != nil {
		return nil, err
	}
	r, err := p.fresh(ctx, db)
	if err != nil {
		return nil, err
	}
	if r.Endpoint == "" {
		return nil, fmt.Errorf("%s has no endpoint", r.ID)
	}
	curHost, curTTL, _, live, err := p.current(ctx)
	if err != nil {
		return nil, err
	}
	if live != nil && live.ID == r.ID {
		return nil, fmt.Errorf("the staging record already points at %s", r.ID)
	}
	prev := live
	if prev == nil && curHost != "" && p.cfg.Adopt != "" {
		a, err := p.rdsc.Get(ctx, p.cfg.Adopt)
		switch {
		case errors.Is(err, rds.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("describe adopted %s: %w", p.cfg.Adopt, err)
		case sameHost(a.Endpoint, curHost):
			prev = a
		}
	}
	// Out of quarantine only now: masked, verified, users set up. The
	// record is switched only once RDS shows the staging groups active.
	if err := p.rdsc.OpenToStaging(ctx, r); err != nil {
		return nil, err
	}
	if err := p.rdsc.EnableBackups(ctx, r); err != nil {
		return nil, err
	}
	if err := p.rdsc.SetState(ctx, r, string(lifecycle.Live)); err != nil {
		return nil, err
	}
	// Checked again right before the only change others could see.
	if err := p.checkLease(); err != nil {
		return nil, err
	}
	if err := p.dns.Switch(ctx, r.Endpoint); err != nil {
		if errors.Is(err, route53.ErrSubmitted) {
			err = p.switchBack(ctx, curHost, err)
		}
		return nil, err
	}
	p.mu.Lock()
	p.prevTTL = curTTL
	p.mu.Unlock()
	if prev == nil {
		if curHost == "" {
			return nil, nil
		}
		// Neither restage's nor adopted: reported as the previous DB so
		// that Retire refuses it (a warning in the report and on Slack),
		// named by its host; it is left alone.
		p.log.Warn("the staging record pointed at a DB restage does not manage; it is left alone", "step", refresh.StepSwap, "was", curHost)
		return &refresh.DB{Name: strings.TrimSuffix(curHost, "."), Engine: p.engine().Family(), Endpoint: curHost}, nil
	}
	if prev.RunID != "" {
		if err := p.rdsc.SetState(ctx, prev, "retiring"); err != nil {
			p.log.Warn("could not tag the previous DB retiring", "step", refresh.StepSwap, "db", prev.ID, "error", err.Error())
		}
	}
	return p.remember(prev), nil
}

// switchBack restores the record's previous value after a failed switch
// that Route53 had accepted (from a fresh context: ctx may be the reason).
func (p *Provider) switchBack(ctx context.Context, prevHost string, cause error) error {
	if prevHost == "" {
		return fmt.Errorf("%w (there was no record before; it may now point at the new DB, which cleanup deletes)", cause)
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultDNSRestore)
	defer cancel()
	if err := p.dns.Switch(bctx, prevHost); err != nil {
		return fmt.Errorf("%w; switching back to %s failed too, fix the record by hand: %v", cause, prevHost, err)
	}
	p.log.Warn("staging record switched back after a failed switch", "step", refresh.StepSwap, "record", p.cfg.DNSName, "value", prevHost)
	return fmt.Errorf("%w (switched back to %s)", cause, prevHost)
}

func (p *Provider) checkLease() error {
	p.mu.Lock()
	lost := p.lost
	p.mu.Unlock()
	if lost == nil {
		return errors.New("switch without the run lock")
	}
	select {
	case <-lost:
		return errors.New("the run lock's lease was lost (another run may own the target): not switching")
	default:
		return nil
	}
}

// Retire waits out the record's TTL (clients may still resolve the old
// endpoint), then deletes prev — only restage's own DB of this target
// (or the adopted one, if rds.Client accepts it); never the source.
func (p *Provider) Retire(ctx context.Context, prev *refresh.DB) error {
	if prev == nil {
		return nil
	}
	v := p.view(prev)
	adopted := p.cfg.Adopt != "" && strings.EqualFold(v.ID, p.cfg.Adopt)
	if v.RunID == "" && !adopted {
		return fmt.Errorf("retire %s: %w (left alone; set RESTAGE_ADOPT to a hand-made staging DB's identifier to let restage retire it)", prev.Name, refresh.ErrNotOurs)
	}
	p.mu.Lock()
	ttl := max(p.prevTTL, p.dns.TTL())
	p.mu.Unlock()
	if ttl > 0 {
		t := time.NewTimer(time.Duration(ttl) * time.Second)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	if err := p.rdsc.Delete(ctx, v, p.cfg.FinalSnapshot); err != nil {
		if adopted {
			return fmt.Errorf("retire adopted %s: %w", v.ID, err)
		}
		return fmt.Errorf("retire %s: %w", v.ID, err)
	}
	return nil
}

// Discard deletes a DB this run created; a DB that is gone is fine. It
// never keeps a final snapshot: the copy may not be masked. The deletes
// are issued at once (Aurora: every instance, then the cluster, without
// waiting instance by instance), so a cleanup cut short by the task's
// stop timeout has still issued them; a copy still being created is
// waited for as long as ctx allows, and otherwise left to the sweep task.
func (p *Provider) Discard(ctx context.Context, db *refresh.DB) error {
	if db == nil {
		return nil
	}
	v := p.view(db)
	if err := p.rdsc.StartDelete(ctx, v, false, true); err != nil {
		return err
	}
	if err := p.rdsc.WaitDeleted(ctx, v); err != nil {
		if ctx.Err() != nil {
			p.log.Warn("delete issued; RDS finishes it after this run", "step", "cleanup", "db", v.ID)
			return nil
		}
		return err
	}
	return nil
}

// Close releases nothing: every connection is closed after use.
func (p *Provider) Close() error { return nil }
