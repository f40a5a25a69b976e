// Package procstat reads a process's CPU time and resident memory from
// Linux's /proc, for the benchmarks (bench/ and the in-process
// *_bench_test.go), which report CPU per operation of callme, MariaDB and
// their own clients.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Stat is a process's resident memory and CPU time.
type Stat struct {
	RSSKB int64
	CPU   time.Duration // user + system
}

// Read reads pid's Stat.
func Read(pid int) (Stat, error) {
	var p Stat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return p, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			if f := strings.Fields(line); len(f) >= 2 {
				p.RSSKB, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) > 12 {
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		p.CPU = time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
	}
	return p, nil
}

// CPU is pid's CPU time, 0 when pid is not positive or unreadable.
func CPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	p, _ := Read(pid)
	return p.CPU
}

// DBPID finds MariaDB's server (mariadbd, or mysqld) in /proc, or 0 when it
// does not run on this machine.
func DBPID() int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile("/proc/" + d.Name() + "/comm")
		if c := strings.TrimSpace(string(b)); c == "mariadbd" || c == "mysqld" {
			return pid
		}
	}
	return 0
}
