package localserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/restage/restage/internal/local"

	mysqlengine "github.com/restage/restage/internal/mysql"
	"github.com/restage/restage/internal/refresh"
)

// The MySQL/MariaDB side of identity, ownership and markers (see
// identity.go, ownership.go, marker.go).

// myStateServing marks the control row named after the staging schema:
// restage filled it for this target. On MariaDB the schema's own comment
// says the same and wins; MySQL 8 has no database comment, so there the
// row is the only record (and is lost with the control DB).
const myStateServing = "serving"

func (p *mysqlServer) owner() local.Owner {
	return local.Owner{Target: p.cfg.Target, Adopt: p.cfg.Adopt}
}

// learn reads, once, what the staging server's rules are: how it
// compares database names (lower_case_table_names) and whether it keeps
// database comments (markers).
func (p *mysqlServer) learn(ctx context.Context, conn *sql.Conn) error {
	p.mu.Lock()
	known := p.commentsKnown
	p.mu.Unlock()
	if known {
		return nil
	}
	lctn, err := mysqlengine.LowerCaseNames(ctx, conn)
	if err != nil {
		return err
	}
	comments, err := mysqlengine.HasDatabaseComments(ctx, conn)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.lctn, p.comments, p.commentsKnown = lctn, comments, true
	p.mu.Unlock()
	return nil
}

// staging opens an admin session on the staging server, its rules learnt.
func (p *mysqlServer) staging(ctx context.Context) (*sql.Conn, error) {
	conn, err := p.admin.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to staging server %s: %w", p.endpoint, mysqlRedact(mysqlScrub(err), p.stg.Passwd))
	}
	if err := p.learn(ctx, conn); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// CheckIdentity asks the servers whether staging and source are one and
// refuses the source behind the staging, adopted or control name (wrapping
// refresh.ErrBadInput); once the servers were compared it does nothing.
// A source it can't reach is local.ErrSourceUnreachable.
func (p *mysqlServer) CheckIdentity(ctx context.Context) error {
	p.mu.Lock()
	done := p.identityDone
	p.mu.Unlock()
	if done {
		return nil
	}
	conn, err := p.staging(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return p.checkIdentity(ctx, conn)
}

// CheckStaging refuses (refresh.ErrBadInput) a staging schema that holds
// anything restage did not put there, unless it is adopted.
func (p *mysqlServer) CheckStaging(ctx context.Context) error {
	conn, err := p.staging(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return p.checkStaging(ctx, conn)
}

// checkIdentity asks the servers whether staging and source are one, and
// refuses the source behind the staging, adopted or control name.
func (p *mysqlServer) checkIdentity(ctx context.Context, conn *sql.Conn) error {
	srcH, err := mysqlOpen(p.src)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer srcH.Close()
	sconn, err := srcH.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to source: %w: %w", mysqlRedact(mysqlScrub(err), p.src.Passwd), local.ErrSourceUnreachable)
	}
	defer sconn.Close()
	same, err := mysqlengine.SameServer(ctx, conn, sconn)
	if err != nil {
		return fmt.Errorf("tell whether staging and source are one server: %w", err)
	}
	p.mu.Lock()
	p.sameServer = p.sameServer || same
	p.identityDone = true
	lctn := p.lctn
	p.mu.Unlock()
	if same {
		var bad []error
		if mysqlengine.SameName(lctn, p.stagingName, p.sourceName) {
			bad = append(bad, fmt.Errorf("the staging database %s is the production source %s (one server, reached under another host name)", p.stagingName, p.sourceName))
		}
		if p.cfg.Adopt != "" && mysqlengine.SameName(lctn, p.cfg.Adopt, p.sourceName) {
			bad = append(bad, fmt.Errorf("RESTAGE_ADOPT names the production source %s", p.sourceName))
		}
		if mysqlengine.SameName(lctn, p.cfg.ControlDB, p.sourceName) {
			bad = append(bad, fmt.Errorf("the control DB %s is the production source", p.cfg.ControlDB))
		}
		if len(bad) > 0 {
			return fmt.Errorf("%w: %w", errors.Join(bad...), refresh.ErrBadInput)
		}
	}
	return nil
}

// checkStaging refuses (ErrBadInput) a staging schema that holds anything
// restage did not put there, unless it is adopted.
func (p *mysqlServer) checkStaging(ctx context.Context, conn *sql.Conn) error {
	exists, err := p.schemaExists(ctx, conn, p.stagingName)
	if err != nil || !exists {
		return err
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?)
		+ (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?)
		+ (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?)`, p.stagingName, p.stagingName, p.stagingName).Scan(&n); err != nil {
		return fmt.Errorf("read staging database %s: %w", p.stagingName, mysqlScrub(err))
	}
	if n == 0 {
		return nil // nothing in it to lose: restage fills it
	}
	c := local.Claim{Name: p.stagingName}
	if p.cfg.Adopt != "" && mysqlengine.SameName(p.lctn, p.cfg.Adopt, p.stagingName) {
		c.Name = p.cfg.Adopt // the server's case rules, not Go's
	}
	if p.comments {
		m, err := p.readMarker(ctx, conn, p.stagingName)
		if err != nil {
			return err
		}
		if m != nil && m.Target != p.cfg.Target && c.Name != p.cfg.Adopt {
			return fmt.Errorf("staging database %s is marked as restage's for target %q, not %q: %w", p.stagingName, m.Target, p.cfg.Target, refresh.ErrBadInput)
		}
		c.Marker = m
	} else {
		// MySQL 8: the control DB's serving row stands in for the marker.
		m, err := p.servingMarker(ctx, conn)
		if err != nil {
			return err
		}
		c.Marker = m
	}
	if p.owner().Check(c) == nil {
		return nil
	}
	return fmt.Errorf("staging database %s holds %d tables or routines restage did not put there (no restage marker for target %s); %s: %w",
		p.stagingName, n, p.cfg.Target, local.AdoptHint(p.stagingName), refresh.ErrBadInput)
}

// servingMarker returns the control DB's serving row for the staging
// schema (if there is a control DB yet) as the marker it stands in for.
func (p *mysqlServer) servingMarker(ctx context.Context, q mysqlQuerier) (*local.Marker, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", p.cfg.ControlDB, mysqlControlTable).Scan(&n); err != nil {
		return nil, fmt.Errorf("read control DB: %w", mysqlScrub(err))
	}
	if n == 0 {
		return nil, nil
	}
	r, ok, err := p.lookup(ctx, q, p.stagingName)
	if err != nil || !ok || r.State != myStateServing {
		return nil, err
	}
	return &local.Marker{Target: r.Target, Run: r.RunID, Role: "staging"}, nil
}

// schemaComments reports (once per server) whether database comments
// can carry markers on this server.
func (p *mysqlServer) schemaComments(ctx context.Context, q mysqlQuerier) bool {
	p.mu.Lock()
	known, ok := p.commentsKnown, p.comments
	p.mu.Unlock()
	if known {
		return ok
	}
	ok, err := mysqlengine.HasDatabaseComments(ctx, q)
	if err != nil {
		return false
	}
	p.mu.Lock()
	p.comments, p.commentsKnown = ok, true
	p.mu.Unlock()
	return ok
}

// readMarker returns the restage marker on a schema, nil if none.
func (p *mysqlServer) readMarker(ctx context.Context, q mysqlQuerier, name string) (*local.Marker, error) {
	c, err := mysqlengine.DatabaseComment(ctx, q, name)
	if err != nil {
		return nil, fmt.Errorf("read marker: %w", err)
	}
	if m, ok := local.ParseMarker(c); ok {
		return &m, nil
	}
	return nil, nil
}

// markDB writes a marker as the schema's comment (MariaDB); a no-op on a
// server without database comments.
func (p *mysqlServer) markDB(ctx context.Context, q mysqlQuerier, name string, m local.Marker) error {
	if !p.schemaComments(ctx, q) {
		return nil
	}
	if err := mysqlengine.SetDatabaseComment(ctx, q, name, m.String()); err != nil {
		return fmt.Errorf("mark %s as restage's: %w", name, err)
	}
	return nil
}

// markStaging records that restage fills the staging schema for this
// target, with the tables of run (empty: not known yet): the schema's
// comment on MariaDB, and a control row on every server.
func (p *mysqlServer) markStaging(ctx context.Context, q mysqlQuerier, run string) error {
	m := local.Marker{Target: p.cfg.Target, Run: run, Role: "staging"}
	if run != "" {
		m.Name = local.DBName(p.cfg.Target, run)
	}
	if err := p.markDB(ctx, q, p.stagingName, m); err != nil {
		return err
	}
	_, err := q.ExecContext(ctx, "INSERT INTO "+p.ctl+" (name, target, run_id, state, origin, created_at, updated_at) VALUES (?, ?, ?, ?, '', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))"+
		" ON DUPLICATE KEY UPDATE target = VALUES(target), run_id = VALUES(run_id), state = VALUES(state), updated_at = VALUES(updated_at)",
		p.stagingName, p.cfg.Target, run, myStateServing)
	if err != nil {
		return fmt.Errorf("record staging %s in control DB: %w", p.stagingName, mysqlScrub(err))
	}
	return nil
}

// recoverFromMarkers puts back the control rows a lost control DB took
// with it: the run whose tables the staging schema serves (so the next
// switch holds them under that run's name and retire drops them), and
// every restage_% schema marked for this target. It looks only at names
// restage uses and believes only markers naming this target: never a
// name alone.
func (p *mysqlServer) recoverFromMarkers(ctx context.Context) error {
	if !p.schemaComments(ctx, p.admin) {
		return nil
	}
	dbs, err := mysqlengine.DatabaseComments(ctx, p.admin, p.stagingName, "restage_")
	if err != nil {
		return fmt.Errorf("read markers: %w", err)
	}
	type found struct {
		name string
		m    local.Marker
	}
	var marked []found
	for _, d := range dbs {
		if m, ok := local.ParseMarker(d.Comment); ok && m.Target == p.cfg.Target {
			marked = append(marked, found{d.Name, m})
		}
	}
	for _, f := range marked {
		if f.name == p.stagingName {
			if f.m.Role != "staging" || f.m.Run == "" {
				continue
			}
			live, err := p.records(ctx, myStateLive)
			if err != nil {
				return err
			}
			if _, ok, err := p.lookup(ctx, p.admin, f.m.Name); err != nil || ok || len(live) > 0 {
				if err != nil {
					return err
				}
				continue
			}
			if err := p.record(ctx, p.admin, local.ControlRecord{Name: f.m.Name, Target: p.cfg.Target, RunID: f.m.Run, State: myStateLive}); err != nil {
				return err
			}
			if err := p.markStaging(ctx, p.admin, f.m.Run); err != nil {
				return err
			}
			p.log.Warn("control DB had no record of the live staging tables; recovered from the staging schema's marker", "step", "prepare", "target", p.cfg.Target, "db", f.m.Name)
			continue
		}
		if f.m.Role == "staging" {
			continue
		}
		if _, ok, err := p.lookup(ctx, p.admin, f.name); err != nil || ok {
			if err != nil {
				return err
			}
			continue
		}
		// Unrecorded but marked: a copy or holding schema of an earlier
		// run. Recorded as previous, so Sweep and Retire treat it by the
		// one ownership rule (a hand-made origin still needs adoption).
		if err := p.record(ctx, p.admin, local.ControlRecord{Name: f.name, Target: p.cfg.Target, RunID: f.m.Run, State: myStatePrevious, Origin: f.m.Origin}); err != nil {
			return err
		}
		p.log.Warn("control DB had no record of a restage database; recovered from its marker", "step", "prepare", "target", p.cfg.Target, "db", f.name)
	}
	return nil
}

// switchMarked is called by Switch: with run "" once the staging schema
// exists (marking it only if it carries no marker of this target yet, so
// a kill before the rename still leaves it recognisably restage's), and
// with the new run once the control DB records it live. Best effort: a
// failed mark is logged; the control DB still holds the truth.
func (p *mysqlServer) switchMarked(ctx context.Context, q mysqlQuerier, run string) {
	if run == "" {
		if m, err := p.readMarker(ctx, q, p.stagingName); err == nil && m != nil && m.Target == p.cfg.Target && m.Role == "staging" {
			return
		}
	}
	if err := p.markStaging(ctx, q, run); err != nil {
		p.log.Warn("mark staging schema", "step", "switch", "target", p.cfg.Target, "error", err)
	}
}
