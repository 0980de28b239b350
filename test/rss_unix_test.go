//go:build unix

package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// envRSSWrap makes this test binary, re-executed, a wrapper that runs its
// arguments and writes the child's peak RSS (KiB) to the file named.
//
// Why a wrapper: Go starts a child with vfork, so until exec the child
// shares the test process's memory, and the kernel counts the test
// process's own peak into the child's ru_maxrss. Measured directly, a
// restage that used 25 MiB reports whatever the test process (with its
// fixtures) peaked at. The wrapper is a small process, so the peak it
// reports is restage's.
const envRSSWrap = "RESTAGE_TEST_RSS_WRAP"

// rssWrapMain is called from TestMain; it never returns when the process
// is a wrapper.
func rssWrapMain() {
	out := os.Getenv(envRSSWrap)
	if out == "" {
		return
	}
	os.Unsetenv(envRSSWrap)
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		code = 1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	if cmd.ProcessState == nil {
		os.Exit(code)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		kib := int64(ru.Maxrss)
		if runtime.GOOS == "darwin" { // bytes there, KiB on Linux
			kib >>= 10
		}
		_ = os.WriteFile(out, []byte(strconv.FormatInt(kib, 10)), 0o644)
	}
	os.Exit(code)
}

// measured returns a command that runs name with args through the wrapper;
// peakRSSMB reads the peak after it ran.
func measured(name string, args ...string) *exec.Cmd {
	f, err := os.CreateTemp("", "restage-rss")
	if err != nil {
		panic(err)
	}
	f.Close()
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), envRSSWrap+"="+f.Name())
	return cmd
}

// peakRSSMB is the peak resident set size in MiB of the process a
// measured command ran, or -1 when the platform does not say.
func peakRSSMB(cmd *exec.Cmd) int64 {
	var path string
	for _, e := range cmd.Env {
		if v, ok := strings.CutPrefix(e, envRSSWrap+"="); ok {
			path = v
		}
	}
	if path == "" {
		panic(fmt.Sprintf("peakRSSMB: %s was not started with measured", filepath.Base(cmd.Path)))
	}
	defer os.Remove(path)
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return -1
	}
	kib, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return -1
	}
	return kib >> 10
}
