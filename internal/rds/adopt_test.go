package rds_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restage/restage/internal/rds"
	"github.com/restage/restage/internal/rds/rdsfake"
)

// seedHandMade adds an untagged, hand-made staging DB id (Aurora: with
// two instances) with deletion protection on.
func seedHandMade(f *rdsfake.Fake, e rds.Engine, id string) []string {
	staging := []types.Tag{{Key: aws.String("env"), Value: aws.String("staging")}}
	if e.Aurora() {
		f.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String(id), Engine: aws.String(string(e)),
			Endpoint: aws.String(id + ".cluster-stg.us-east-1.rds.amazonaws.com"), TagList: staging, DeletionProtection: aws.Bool(true)})
		for _, m := range []string{id + "-1", id + "-2"} {
			f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(m), DBClusterIdentifier: aws.String(id), Engine: aws.String(string(e)), TagList: staging})
		}
		return []string{id + "-1", id + "-2"}
	}
	f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(id), Engine: aws.String(string(e)), TagList: staging,
		Endpoint: &types.Endpoint{Address: aws.String(id + ".stg.us-east-1.rds.amazonaws.com")}, DeletionProtection: aws.Bool(true)})
	return nil
}

func TestDeleteAdopted(t *testing.T) {
	for _, e := range []rds.Engine{rds.AuroraPostgreSQL, rds.MySQL} {
		t.Run(string(e), func(t *testing.T) {
			env := newEnv(t, e, func(c *rds.Config) { c.Adopt = "Staging-Shop" })
			f := env.fake
			seedSource(f, e, 1)
			members := seedHandMade(f, e, "staging-shop")
			seedHandMade(f, e, "staging-other")
			ctx := context.Background()

			// Not adopted, untagged: refused before any change.
			if err := env.c.Delete(ctx, &rds.DB{ID: "staging-other"}, false); !errors.Is(err, rds.ErrNotOurs) {
				t.Fatalf("Delete(staging-other) = %v, want ErrNotOurs", err)
			}
			if m := ops(f, rdsfake.Call.Mutating); len(m) != 0 {
				t.Fatalf("changing calls for a DB not adopted: %v", m)
			}
			// Managed does not list the adopted DB: Sweep never takes it.
			dbs, err := env.c.Managed(ctx)
			if err != nil || len(dbs) != 0 {
				t.Fatalf("Managed = %v, %v; want nothing", dbs, err)
			}

			// Adopted (named in any case): deleted, instances before the cluster.
			if err := env.c.Delete(ctx, &rds.DB{ID: "staging-shop"}, false); err != nil {
				t.Fatalf("Delete(adopted): %v", err)
			}
			var seq []string
			for _, c := range f.Calls() {
				if c.Mutating() && c.Err == nil && strings.HasPrefix(c.Op, "Delete") {
					seq = append(seq, c.Op+" "+c.ID)
				}
			}
			want := []string{"DeleteDBInstance staging-shop"}
			if e.Aurora() {
				want = []string{"DeleteDBInstance " + members[0], "DeleteDBInstance " + members[1], "DeleteDBCluster staging-shop"}
				slices.Sort(seq[:min(2, len(seq))])
			}
			if !slices.Equal(seq, want) {
				t.Fatalf("delete calls %v, want %v", seq, want)
			}
			if env.exists(e, "staging-shop") {
				t.Fatal("adopted DB still there")
			}
			if !env.exists(e, "staging-other") || !env.exists(e, sourceID) {
				t.Fatal("another DB went with the adopted one")
			}
			if m := mutatingCallsTo(f, sourceID); len(m) != 0 {
				t.Fatalf("mutating calls to the source: %v", m)
			}
		})
	}
}

func (env *env) exists(e rds.Engine, id string) bool {
	if e.Aurora() {
		_, ok := env.fake.Cluster(id)
		return ok
	}
	_, ok := env.fake.Instance(id)
	return ok
}

func TestAdoptSourceRefused(t *testing.T) {
	for _, e := range []rds.Engine{rds.AuroraMySQL, rds.MySQL} {
		t.Run(string(e), func(t *testing.T) {
			cfg := baseConfig(e)
			cfg.Adopt = strings.ToUpper(sourceID)
			if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "production source") {
				t.Fatalf("Validate with the source adopted: %v", err)
			}
			// Should a client be built anyway: the source is still refused,
			// by identifier (nothing called) …
			f := rdsfake.New()
			seedSource(f, e, 1)
			c := rds.New(f, cfg, slog.New(slog.DiscardHandler))
			if err := c.Delete(context.Background(), &rds.DB{ID: sourceID}, false); !errors.Is(err, rds.ErrNotOurs) {
				t.Fatalf("Delete(source) = %v, want ErrNotOurs", err)
			}
			if len(f.Calls()) != 0 {
				t.Fatalf("calls made: %v", f.Calls())
			}
			// … by ARN …
			kind := "db"
			if e.Aurora() {
				kind = "cluster"
			}
			cfg.Adopt = "staging-shop"
			cfg.SourceARN = "arn:aws:rds:us-east-1:123456789012:" + kind + ":staging-shop"
			c = rds.New(f, cfg, slog.New(slog.DiscardHandler))
			seedHandMade(f, e, "staging-shop")
			if err := c.Delete(context.Background(), &rds.DB{ID: "staging-shop"}, false); !errors.Is(err, rds.ErrNotOurs) {
				t.Fatalf("Delete(adopted with the source's ARN) = %v, want ErrNotOurs", err)
			}
			// … and by endpoint.
			cfg.SourceARN = ""
			cfg.Adopt = "staging-alias"
			c = rds.New(f, cfg, slog.New(slog.DiscardHandler))
			if e.Aurora() {
				f.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String("staging-alias"), Engine: aws.String(string(e)), Endpoint: aws.String(sourceEndpoint(e))})
			} else {
				f.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String("staging-alias"), Engine: aws.String(string(e)),
					Endpoint: &types.Endpoint{Address: aws.String(sourceEndpoint(e))}})
			}
			if err := c.Delete(context.Background(), &rds.DB{ID: "staging-alias"}, false); !errors.Is(err, rds.ErrNotOurs) {
				t.Fatalf("Delete(adopted with the source's endpoint) = %v, want ErrNotOurs", err)
			}
			if m := ops(f, rdsfake.Call.Mutating); len(m) != 0 {
				t.Fatalf("changing calls made: %v", m)
			}
		})
	}
}
