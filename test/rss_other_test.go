//go:build !unix

package test

import "os/exec"

func rssWrapMain() {}

func measured(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }

func peakRSSMB(*exec.Cmd) int64 { return -1 }
