package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// pcts returns several percentiles with one sort.
func pcts(l []time.Duration, ps ...float64) []time.Duration {
	out := make([]time.Duration, len(ps))
	if len(l) == 0 {
		return out
	}
	s := slices.Clone(l)
	slices.Sort(s)
	for j, p := range ps {
		i := int(p/100*float64(len(s))+0.5) - 1
		i = max(0, min(i, len(s)-1))
		out[j] = s[i]
	}
	return out
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f", float64(d)/1e6)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f", float64(d)/1e6)
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// section is one scenario's result: a table and notes.
type section struct {
	key     string // issue, query, fanout, storm
	title   string
	intro   string
	header  []string
	rows    [][]string
	notes   []string
	extra   string // more Markdown after the table (a second table, a profile)
	cmdline string
}

func (s *section) add(cells ...string) { s.rows = append(s.rows, cells) }

func (s *section) print(load string) {
	fmt.Printf("\n%s (load average %s → %s)\n", s.title, load, loadavg())
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, strings.Join(s.header, "\t")+"\t")
	for _, r := range s.rows {
		fmt.Fprintln(w, strings.Join(r, "\t")+"\t")
	}
	w.Flush()
	if s.extra != "" {
		fmt.Println(strings.TrimSpace(s.extra))
	}
	for _, n := range s.notes {
		fmt.Println("- " + n)
	}
}

func (s *section) markdown(machine, load string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", s.title)
	if s.intro != "" {
		fmt.Fprintf(&b, "%s\n\n", s.intro)
	}
	fmt.Fprintf(&b, "Run %s with `%s` on %s; load average (1/5/15 min) %s at the start, %s at the end.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), s.cmdline, machine, load, loadavg())
	b.WriteString("| " + strings.Join(s.header, " | ") + " |\n")
	b.WriteString("|")
	for i := range s.header {
		if i == 0 {
			b.WriteString("---|")
		} else {
			b.WriteString("--:|")
		}
	}
	b.WriteString("\n")
	for _, r := range s.rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	if s.extra != "" {
		b.WriteString("\n" + strings.TrimSpace(s.extra) + "\n")
	}
	if len(s.notes) > 0 {
		b.WriteString("\n")
		for _, n := range s.notes {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}

const benchHeader = `# Benchmarks

Figures from ` + "`go run ./bench <scenario>`" + ` (see ` + "`bench/main.go`" + `). Each scenario
replaces its own section below when it runs; the notes at the end are kept.

`

var sectionOrder = []string{"issue", "issue-sqlite", "query", "fanout", "storm"}

// publish prints a section and, unless told not to, replaces it in
// BENCHMARKS.md (between its markers, keeping the rest of the file).
func (e *env) publish(ctx context.Context, s *section) {
	s.cmdline = e.cmdline
	s.print(e.loadAt)
	if e.o.noWrite || e.o.smoke {
		return
	}
	path := e.o.out
	if !filepath.IsAbs(path) {
		path = filepath.Join(e.root, path)
	}
	md := s.markdown(e.machine(ctx), e.loadAt)
	if err := replaceSection(path, s.key, md); err != nil {
		fmt.Fprintf(os.Stderr, "bench: writing %s: %v\n", path, err)
		return
	}
	fmt.Printf("(section %q of %s updated)\n", s.key, path)
}

func marker(key string, end bool) string {
	if end {
		return "<!-- bench:" + key + ":end -->"
	}
	return "<!-- bench:" + key + ":begin -->"
}

func replaceSection(path, key, md string) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		var sk strings.Builder
		sk.WriteString(benchHeader)
		for _, k := range sectionOrder {
			sk.WriteString(marker(k, false) + "\n" + marker(k, true) + "\n\n")
		}
		b, err = []byte(sk.String()), nil
	}
	if err != nil {
		return err
	}
	text := string(b)
	begin, end := marker(key, false), marker(key, true)
	block := begin + "\n" + md + end
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i >= 0 && j > i {
		text = text[:i] + block + text[j+len(end):]
	} else {
		text = strings.TrimRight(text, "\n") + "\n\n" + block + "\n"
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
