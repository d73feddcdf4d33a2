package main

import (
	"bytes"
	"strings"
	"testing"
)

// usageCase is a command line that must be refused as a usage error whose
// message mentions msg.
type usageCase struct {
	name string
	args []string
	msg  string
}

// testUsageErrors runs `echobench COMMAND ARGS` for each case: exit 2, the
// message in the error, and nothing on stdout, where a caller would read
// results.
func testUsageErrors(t *testing.T, command string, tests []usageCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(&stdout, &stderr, append([]string{command}, tt.args...))
			if code := exitCode(err, &stderr); code != 2 {
				t.Fatalf("exit %d (err %v), want 2", code, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty on a usage error: %q", stdout.String())
			}
		})
	}
}
