//go:build !unix

package main

import "os"

// maxRSSKiB is unknown off Unix: 0 means "not measured".
func maxRSSKiB(*os.ProcessState) int64 { return 0 }
