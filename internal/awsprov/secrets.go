package awsprov

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// FakeSecrets is an in-memory SecretReader for tests. Lookup (e.g. an
// rdsfake.Fake's Secret) supplies RDS-managed master passwords; they are
// answered as RDS stores them: JSON with "username" and "password".
type FakeSecrets struct {
	Lookup func(arn string) (password string, ok bool)

	mu    sync.Mutex
	calls []string
}

var _ SecretReader = (*FakeSecrets)(nil)

// GetSecretValue implements SecretReader.
func (f *FakeSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	id := aws.ToString(in.SecretId)
	f.mu.Lock()
	f.calls = append(f.calls, id)
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var pw string
	ok := false
	if f.Lookup != nil {
		pw, ok = f.Lookup(id)
	}
	if !ok {
		return nil, fmt.Errorf("ResourceNotFoundException: Secrets Manager can't find the specified secret %q", id)
	}
	b, _ := json.Marshal(map[string]string{"username": "", "password": pw})
	return &secretsmanager.GetSecretValueOutput{ARN: aws.String(id), SecretString: aws.String(string(b))}, nil
}

// Calls returns the secret ids read so far.
func (f *FakeSecrets) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}
