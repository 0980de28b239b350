//go:build !unix

package testdb

import "testing"

// HostsAlias needs a writable /etc/hosts: not here.
func HostsAlias(t testing.TB) string {
	t.Helper()
	t.Skip("no /etc/hosts to add an alias to")
	return ""
}
