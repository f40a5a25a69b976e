package schema

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestStringsCountCharacters keeps byte limits out of the schema: MaxLen
// counts bytes, the API and the domain count characters, and a field limited
// in bytes refuses CJK text the API accepted (see mixin.go).
func TestStringsCountCharacters(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	byteLimit := regexp.MustCompile(`\.(MaxLen|MinLen)\(`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if byteLimit.MatchString(line) {
				t.Errorf("%s:%d: %s: limit strings in characters with MaxRuneLen/MinRuneLen", f, i+1, strings.TrimSpace(line))
			}
		}
	}
}
