//go:build unix

package test

import (
	"os/exec"
	"runtime"
	"syscall"
)

// peakRSSMB is the child process's peak resident set size in MiB, or -1
// when the platform does not say.
func peakRSSMB(cmd *exec.Cmd) int64 {
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return -1
	}
	if runtime.GOOS == "darwin" { // bytes there, KiB on Linux
		return int64(ru.Maxrss) >> 20
	}
	return int64(ru.Maxrss) >> 10
}
