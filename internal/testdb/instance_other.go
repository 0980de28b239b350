//go:build !linux

package testdb

import "syscall"

// canSwitchUser: elsewhere the servers run as the current (non-root) user.
const canSwitchUser = false

// sysProcAttr: no user switch and no parent-death signal outside Linux.
func sysProcAttr(osUser, syscall.Signal) *syscall.SysProcAttr { return nil }
