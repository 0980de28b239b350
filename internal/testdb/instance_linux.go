package testdb

import "syscall"

// canSwitchUser: on Linux a root test runs the servers as their own users.
const canSwitchUser = true

// sysProcAttr runs a command as u and, when deathSig is set, has the kernel
// send it deathSig if the test binary dies before its cleanup runs (the
// credential change happens before the death signal is set, so it sticks).
func sysProcAttr(u osUser, deathSig syscall.Signal) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: deathSig}
	if u.switched {
		a.Credential = &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}
	}
	return a
}
