//go:build unix

package testdb

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// HostsAlias adds "127.0.0.1 <random name>" to /etc/hosts for the test and
// removes it at the end: a second spelling of the test servers' host that
// no string comparison can recognise. It skips the test when /etc/hosts
// can't be written (not root).
func HostsAlias(t testing.TB) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "restage-alias-" + hex.EncodeToString(b[:])
	line := "127.0.0.1 " + name
	editHosts(t, func(s string) string {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return s + line + "\n"
	})
	t.Cleanup(func() {
		editHosts(t, func(s string) string {
			var keep []string
			for _, l := range strings.SplitAfter(s, "\n") {
				if strings.TrimSpace(l) != line {
					keep = append(keep, l)
				}
			}
			return strings.Join(keep, "")
		})
	})
	// Go's resolver caches /etc/hosts for a few seconds: wait until it
	// sees the new name.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := net.LookupHost(name); err == nil {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("alias %s not resolvable", name)
		}
	}
}

// editHosts rewrites /etc/hosts in place (it may be a bind mount) under a
// lock every test process on the machine shares.
func editHosts(t testing.TB, edit func(string) string) {
	t.Helper()
	lf, err := os.OpenFile(filepath.Join(os.TempDir(), "restage-etc-hosts.lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Skipf("hosts lock: %v", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Skipf("hosts lock: %v", err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	b, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Skipf("read /etc/hosts: %v", err)
	}
	if err := os.WriteFile("/etc/hosts", []byte(edit(string(b))), 0o644); err != nil {
		t.Skipf("write /etc/hosts: %v", err)
	}
}
