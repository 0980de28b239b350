package local

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/restage/restage/internal/postgres"
)

// The COPY text codec lives in the engine package, which also masks
// tables by rewriting them through it.
var (
	pgTransformCopy = postgres.TransformCopy
	pgCopyDecode    = postgres.CopyDecode
	pgCopyEncode    = postgres.CopyEncode
)

// copySequences sets every sequence of the new DB to its value in the
// source, as pg_dump's data section does (setval(name, last_value,
// is_called)).
func (p *pgProvider) copySequences(ctx context.Context, name string, snap *pgSnapshot) error {
	seqs, err := snap.rels(ctx, "S")
	if err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	c, err := snap.get(ctx)
	if err != nil {
		return err
	}
	defer func() { snap.conns <- c }()
	d, err := p.connect(ctx, name)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", name, err)
	}
	defer pgClose(d)
	for _, s := range seqs {
		q := pgx.Identifier{s.name.Schema, s.name.Name}.Sanitize()
		var last string
		var called bool
		if err := c.QueryRow(ctx, "SELECT last_value::text, is_called FROM "+q).Scan(&last, &called); err != nil {
			return fmt.Errorf("read sequence %s: %w", s.name, pgScrub(err))
		}
		if _, err := d.Exec(ctx, "SELECT pg_catalog.setval($1::text::regclass, $2::text::int8, $3)", q, last, called); err != nil {
			return fmt.Errorf("set sequence %s: %w", s.name, pgScrub(err))
		}
	}
	return nil
}
