package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// cpuMeter measures how many of the machine's cores were busy during one
// measurement (all processes: the servers, restage, the dump tools), from
// /proc/stat. It explains a MISS: a measurement that keeps every core busy
// is bound by CPU, not by waiting. Off Linux it measures nothing (0).
type cpuMeter struct{ busy, total uint64 }

func startCPU() cpuMeter {
	b, t := procStat()
	return cpuMeter{busy: b, total: t}
}

// cores is the average number of busy cores since start.
func (m cpuMeter) cores() float64 {
	b, t := procStat()
	if t <= m.total || m.total == 0 {
		return 0
	}
	return float64(b-m.busy) / float64(t-m.total) * float64(runtime.NumCPU())
}

// procStat returns the busy and total jiffies of the first line of
// /proc/stat (idle and iowait count as not busy); 0, 0 when unreadable.
func procStat() (busy, total uint64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "cpu ") {
		return 0, 0
	}
	for i, field := range strings.Fields(line)[1:] {
		v, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return 0, 0
		}
		if i >= 8 { // guest time is already counted in user time
			break
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total
}

// processCPU is a child's user + system CPU time, its waited-for children
// included (a shell pipeline's dump and load clients).
func processCPU(ps *os.ProcessState) time.Duration {
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

func fmtCores(c float64) string {
	if c <= 0 {
		return ""
	}
	return strconv.FormatFloat(c, 'f', 2, 64)
}

func fmtCPU(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return fmtSecs(d)
}
