package localserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/local"
	"github.com/restage/restage/internal/postgres"
	"github.com/restage/restage/internal/refresh"
)

// The PostgreSQL side of identity, ownership and markers (see
// identity.go, ownership.go, marker.go). A marker is the database's
// comment (COMMENT ON DATABASE, kept in pg_shdescription): it follows the
// database through renames, so a live copy still says which run made it.

func (p *pgServer) owner() local.Owner { return local.Owner{Target: p.cfg.Target, Adopt: p.cfg.Adopt} }

// maintenance opens an admin session on the staging server that touches
// neither the staging nor the control database (neither may exist yet).
func (p *pgServer) maintenance(ctx context.Context) (*pgx.Conn, error) {
	var err error
	for _, db := range []string{"postgres", "template1"} {
		var c *pgx.Conn
		if c, err = p.connect(ctx, db); err == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("connect to a maintenance database on the staging server: %w", err)
}

// CheckIdentity asks the servers whether staging and source are one
// cluster and refuses the source (by OID) behind the staging, adopted or
// control name (wrapping refresh.ErrBadInput); once the servers were
// compared it does nothing. A source it can't reach is
// local.ErrSourceUnreachable.
func (p *pgServer) CheckIdentity(ctx context.Context) error {
	p.mu.Lock()
	done := p.identityDone
	p.mu.Unlock()
	if done {
		return nil
	}
	c, err := p.maintenance(ctx)
	if err != nil {
		return err
	}
	defer pgClose(c)
	return p.checkIdentity(ctx, c)
}

// CheckStaging refuses (refresh.ErrBadInput) a database behind the
// staging name that restage did not create for this target, unless it is
// adopted.
func (p *pgServer) CheckStaging(ctx context.Context) error {
	c, err := p.maintenance(ctx)
	if err != nil {
		return err
	}
	defer pgClose(c)
	return p.checkStaging(ctx, c)
}

// checkIdentity asks the servers whether staging and source are one
// cluster, and refuses the source (by OID) behind the staging, adopted or
// control name.
func (p *pgServer) checkIdentity(ctx context.Context, c *pgx.Conn) error {
	sc, err := p.connectSource(ctx)
	if err != nil {
		return fmt.Errorf("connect to source %s: %w: %w", p.src.Target(), err, local.ErrSourceUnreachable)
	}
	defer pgClose(sc)
	same, err := postgres.SameServer(ctx, c, sc)
	if err != nil {
		return fmt.Errorf("tell whether staging and source are one server: %w", err)
	}
	p.mu.Lock()
	p.identityDone = true
	p.mu.Unlock()
	if same {
		srcOID, err := postgres.CurrentOID(ctx, sc)
		if err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		var srcName string
		if err := c.QueryRow(ctx, "SELECT datname FROM pg_database WHERE oid = $1", srcOID).Scan(&srcName); err != nil {
			return fmt.Errorf("read source: %w", pgScrub(err))
		}
		p.mu.Lock()
		p.srcName = srcName
		p.mu.Unlock()
		var bad []error
		for _, n := range []struct{ what, name string }{
			{"the staging database", p.staging}, {"RESTAGE_ADOPT", p.cfg.Adopt}, {"the control DB", p.cfg.ControlDB},
		} {
			if n.name == "" {
				continue
			}
			oid, err := pgDBOID(ctx, c, n.name)
			if err != nil {
				return err
			}
			if oid == srcOID {
				bad = append(bad, fmt.Errorf("%s %s is the production source %s (one server, reached under another host name)", n.what, n.name, p.src.Target()))
			}
		}
		if len(bad) > 0 {
			return fmt.Errorf("%w: %w", errors.Join(bad...), refresh.ErrBadInput)
		}
	}
	return nil
}

// checkStaging refuses (ErrBadInput) a database behind the staging name
// that restage did not create for this target, unless it is adopted.
func (p *pgServer) checkStaging(ctx context.Context, c *pgx.Conn) error {
	oid, err := pgDBOID(ctx, c, p.staging)
	if err != nil || oid == 0 {
		return err
	}
	m, err := pgReadMarker(ctx, c, oid)
	if err != nil {
		return err
	}
	if m != nil && m.Target != p.cfg.Target && p.cfg.Adopt != p.staging {
		return fmt.Errorf("staging database %s is marked as restage's for target %q, not %q: %w", p.staging, m.Target, p.cfg.Target, refresh.ErrBadInput)
	}
	cl := local.Claim{Name: p.staging, Marker: m}
	if m == nil {
		// No marker: a staging DB from a restage version before markers is
		// still known to the control DB by its OID.
		if cl.RunID, cl.Recorded, err = p.liveByOID(ctx, oid); err != nil {
			return err
		}
		cl.Target = p.cfg.Target
	}
	if p.owner().Check(cl) == nil {
		return nil
	}
	return fmt.Errorf("staging database %s was not created by restage for target %s (no restage marker, no control DB record); %s: %w",
		p.staging, p.cfg.Target, local.AdoptHint(p.staging), refresh.ErrBadInput)
}

// liveByOID returns the run id of the control DB's live record of this
// target for the database with this OID, if there is a control DB and
// such a record.
func (p *pgServer) liveByOID(ctx context.Context, oid int64) (run string, ok bool, err error) {
	c, err := p.connect(ctx, p.cfg.ControlDB)
	if pgCode(err) == "3D000" {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("connect to control DB %s: %w", p.cfg.ControlDB, err)
	}
	defer pgClose(c)
	var exists bool
	if err := c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgControlTable).Scan(&exists); err != nil || !exists {
		return "", false, pgScrub(err)
	}
	err = c.QueryRow(ctx, "SELECT run_id FROM "+pgControlTable+" WHERE target = $1 AND state = 'live' AND db_oid = $2 ORDER BY updated_at DESC LIMIT 1", p.cfg.Target, oid).Scan(&run)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return run, err == nil, pgScrub(err)
}

// pgReadMarker returns the restage marker on a database, nil if none.
func pgReadMarker(ctx context.Context, q pgQuerier, oid int64) (*local.Marker, error) {
	s, err := postgres.DatabaseComment(ctx, q, oid)
	if err != nil {
		return nil, err
	}
	if m, ok := local.ParseMarker(s); ok {
		return &m, nil
	}
	return nil, nil
}

// pgMark writes a marker as the database's comment.
func pgMark(ctx context.Context, q pgQuerier, name string, m local.Marker) error {
	if err := postgres.SetDatabaseComment(ctx, q, name, m.String()); err != nil {
		return fmt.Errorf("mark %s as restage's: %w", name, err)
	}
	return nil
}

// recoverFromMarkers puts back the control rows a lost control DB took
// with it: the copy behind the staging name (recorded live under its
// restage name, so the next switch renames it back to that name and
// retire drops it), and every restage_% database marked for this target.
// It looks only at names restage uses and believes only markers naming
// this target: never a name alone.
func (p *pgServer) recoverFromMarkers(ctx context.Context, c *pgx.Conn) error {
	dbs, err := postgres.DatabaseComments(ctx, c, p.staging, "restage_")
	if err != nil {
		return fmt.Errorf("read markers: %w", err)
	}
	type found struct {
		name string
		oid  int64
		m    local.Marker
	}
	var marked []found
	for _, d := range dbs {
		if m, ok := local.ParseMarker(d.Comment); ok && m.Target == p.cfg.Target && m.Run != "" && m.Name != "" {
			marked = append(marked, found{d.Name, d.OID, m})
		}
	}
	for _, f := range marked {
		name, state := f.name, "previous"
		if f.name == p.staging {
			name, state = f.m.Name, "live"
		}
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM "+pgControlTable+" WHERE name = $1 OR db_oid = $2", name, f.oid).Scan(&n); err != nil {
			return fmt.Errorf("read control DB: %w", pgScrub(err))
		}
		if n > 0 {
			continue
		}
		if _, err := c.Exec(ctx, "INSERT INTO "+pgControlTable+" (name, target, run_id, state, db_oid) VALUES ($1, $2, $3, $4, $5)",
			name, p.cfg.Target, f.m.Run, state, f.oid); err != nil {
			return fmt.Errorf("record %s from its marker: %w", name, pgScrub(err))
		}
		p.log.Warn("control DB had no record of a restage database; recovered from its marker", "step", "prepare", "db", f.name, "state", state)
	}
	return nil
}
