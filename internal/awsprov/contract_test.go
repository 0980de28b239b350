package awsprov

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/restage/restage/internal/providertest"
	"github.com/restage/restage/internal/refresh"
)

// TestProviderContract runs the provider conformance suite on the AWS
// provider over its behavioural fakes, for an Aurora cluster and an RDS
// instance (each "restored" DB a real private server).
func TestProviderContract(t *testing.T) {
	srcs := loadSources(t)
	for _, ec := range []engineCase{engineCases[0], engineCases[3]} {
		t.Run(string(ec.engine), func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) providertest.Harness {
				e := newEnv(t, ec, srcs[ec.family()])
				return providertest.Harness{
					New: func(t *testing.T) refresh.Provider { return e.provider(t) },
					// A DB whose deletion was issued is gone for the suite:
					// RDS deletes asynchronously.
					Exists: func(t *testing.T, id string) bool { return e.exists(id) && !e.deleted(id) },
					Foreign: func(t *testing.T) *refresh.DB {
						const id = "staging-handmade"
						if ec.engine.Aurora() {
							e.rf.AddCluster(types.DBCluster{DBClusterIdentifier: aws.String(id), Engine: aws.String(string(ec.engine))})
						} else {
							e.rf.AddInstance(types.DBInstance{DBInstanceIdentifier: aws.String(id), Engine: aws.String(string(ec.engine))})
						}
						return &refresh.DB{Name: id, Engine: ec.family(), Endpoint: id}
					},
				}
			})
		})
	}
}
